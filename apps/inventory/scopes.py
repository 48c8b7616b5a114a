"""Which scopes a source is expected to have collected: the one definition.

A source's settings plan some units (IAM; the pinned regions; a discovery). A discovery
adds more at each collection (the regions enabled in the account, an organisation's
accounts): those are the scopes of the units spawned in the source's latest run that
spawned any. The coverage rule and the pages judge a source against both, so a region
or account found once and failing later is never forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Max

from apps.inventory.models import CollectionUnit, Source
from apps.inventory.services.sources import source_targets


def source_scopes(sources: Iterable[Source]) -> dict[int, list[tuple[str, str]]]:
    """``{source id: [(connector, scope), ...]}``: planned scopes first, then the discovered
    ones of the latest discovery, each once. Two queries, whatever the number of sources."""
    sources = list(sources)
    scopes: dict[int, dict[str, str]] = {}
    for source in sources:
        scopes[source.pk] = {scope: connector for connector, scope, _target in source_targets(source)}
    latest = dict(
        CollectionUnit.objects.filter(source_id__in=list(scopes), spawned_by__isnull=False)
        .values("source_id")
        .annotate(run=Max("run_id"))
        .values_list("source_id", "run")
    )
    if latest:
        runs = set(latest.values())
        rows = (
            CollectionUnit.objects.filter(source_id__in=list(latest), run_id__in=runs, spawned_by__isnull=False)
            .order_by("scope")
            .values_list("source_id", "run_id", "connector", "scope")
        )
        for source_id, run_id, connector, scope in rows:
            if latest[source_id] == run_id:
                scopes[source_id].setdefault(scope, connector)
    return {source_id: [(connector, scope) for scope, connector in found.items()] for source_id, found in scopes.items()}
