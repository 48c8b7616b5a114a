from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apps.audit import events
from apps.catalog.loader import CatalogData, CatalogError
from apps.catalog.models import CatalogVersion, Clause, Requirement


@dataclass
class LoadSummary:
    version: str
    unchanged: bool
    created: int = 0
    updated: int = 0
    retired: int = 0

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "unchanged": self.unchanged,
            "created": self.created,
            "updated": self.updated,
            "retired": self.retired,
        }


_FIELDS = (
    "title",
    "statement",
    "guidance",
    "evidence",
    "rule_ids",
    "automatable",
    "rules_cover",
    "manual_evidence_for",
    "topic",
    "position",
)


@transaction.atomic
def catalog_load(*, data: CatalogData, actor=None) -> LoadSummary:
    """Load a validated catalog into the database; idempotent.

    The same version with the same content changes nothing. The same version with
    different content is refused (bump the version). Requirements missing from the new
    version are retired, never deleted: controls and evidence refer to them.
    """
    existing = CatalogVersion.objects.filter(catalog_id=data.catalog_id, version=data.version).first()
    if existing is not None:
        if existing.sha256 == data.sha256:
            return LoadSummary(version=data.version, unchanged=True)
        raise CatalogError(f"catalog {data.catalog_id} version {data.version} is already loaded with different content; bump the version")
    version = CatalogVersion.objects.create(
        catalog_id=data.catalog_id, version=data.version, title=data.title, sha256=data.sha256, requirement_count=len(data.requirements)
    )
    summary = LoadSummary(version=data.version, unchanged=False)

    clauses = {}
    for c in data.clauses:
        clause, _ = Clause.objects.update_or_create(ref=c["ref"], defaults={"title": c["title"], "summary": c.get("summary", "")})
        clauses[c["ref"]] = clause

    current = {r.ref: r for r in Requirement.objects.all()}
    seen = set()
    for position, item in enumerate(data.requirements, start=1):
        values = {
            "clause": clauses[item["clause"]],
            "topic": item["topic"],
            "title": item["title"],
            "statement": item["statement"].strip(),
            "guidance": item.get("guidance", "").strip(),
            "evidence": list(item["evidence"]),
            "rule_ids": list(item["rules"]),
            "automatable": item["automatable"],
            "rules_cover": (item.get("rules_cover") or "").strip(),
            "manual_evidence_for": (item.get("manual_evidence_for") or "").strip(),
            "position": position,
        }
        seen.add(item["ref"])
        req = current.get(item["ref"])
        if req is None:
            # A topic may move between refs across versions: free it first.
            Requirement.objects.filter(topic=values["topic"]).exclude(ref=item["ref"]).update(
                topic=f"retired-{version.pk}-{values['topic']}"[:64]
            )
            Requirement.objects.create(ref=item["ref"], introduced_in=version, updated_in=version, **values)
            summary.created += 1
            continue
        changed = [f for f in _FIELDS if getattr(req, f) != values[f]] + (["clause"] if req.clause_id != values["clause"].pk else [])
        if changed or req.retired_in_id:
            for field, value in values.items():
                setattr(req, field, value)
            req.updated_in = version
            req.retired_in = None
            req.save()
            summary.updated += 1
    for ref, req in current.items():
        if ref not in seen and req.retired_in_id is None:
            req.retired_in = version
            req.save(update_fields=["retired_in"])
            summary.retired += 1
    events.catalog_loaded(actor=actor, version=version, summary=summary.as_dict())
    return summary
