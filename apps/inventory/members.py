"""What the latest discovery of an AWS organisation or an Azure subscription source found, for
its page and the API: its members (accounts, vaults) with each one's health in its latest run."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from apps.inventory.models import CollectionUnit, Snapshot, Source
from apps.inventory.selectors import visible_sources


def _members_health(*, source: Source, user) -> tuple[dict[str, Source], dict[int, dict[str, Any]]]:
    """``source``'s member sources ``user`` may view, by key, and each one's health in its
    latest run (units, failed, pending, the first failed unit's error). Two queries."""
    members = {m.source_key: m for m in visible_sources(user=user).filter(parent=source)}
    latest = dict(
        CollectionUnit.objects.filter(source__in=members.values())
        .values("source_id")
        .annotate(run=Max("run_id"))
        .values_list("source_id", "run")
    )
    health: dict[int, dict[str, Any]] = {}
    units = CollectionUnit.objects.filter(source_id__in=list(latest), run_id__in=set(latest.values())).values_list(
        "source_id", "run_id", "scope", "status", "errors"
    )
    for source_id, run_id, scope, status, errors in units:
        if latest[source_id] != run_id:
            continue
        row = health.setdefault(source_id, {"run_id": run_id, "units": 0, "failed": 0, "pending": 0, "problem": ""})
        row["units"] += 1
        if status == CollectionUnit.Status.FAILED:
            row["failed"] += 1
            if not row["problem"] and errors:
                row["problem"] = f"{scope}: {errors[-1].get('code', '')}: {str(errors[-1].get('message', ''))[:300]}"
        elif status in (CollectionUnit.Status.PENDING, CollectionUnit.Status.RUNNING):
            row["pending"] += 1
    return members, health


def organization_accounts(*, source: Source, user) -> dict[str, Any] | None:
    """What the latest discovery of an organisation ``source`` found, for its page; ``None`` for
    a source that discovers no accounts (or never did).

    ``{"taken_at", "organization_id", "accounts": [...], "left": [...]}``: each account as the
    discovery decided it (``decision``, ``reason``, ``event``) with its member source when
    ``user`` may view it and that source's health in its latest run: ``status`` (succeeded,
    failed, running, never) and the failed units' first error. Three queries.
    """
    snapshot = (
        Snapshot.objects.filter(source=source, facts__has_key="accounts").order_by("-taken_at", "-pk").only("taken_at", "facts").first()
    )
    if snapshot is None:
        return None
    members, health = _members_health(source=source, user=user)
    accounts = []
    for entry in snapshot.facts.get("accounts") or []:
        if not isinstance(entry, dict):
            continue
        member = members.get(str(entry.get("id")))
        row = health.get(member.pk) if member else None
        if row is None:
            state = "never"
        elif row["failed"]:
            state = "failed"
        elif row["pending"]:
            state = "running"
        else:
            state = "succeeded"
        accounts.append({**entry, "member": member, "health": state, "health_row": row})
    return {
        "taken_at": snapshot.taken_at,
        "organization_id": snapshot.facts.get("organization_id", ""),
        "accounts": accounts,
        "left": [a for a in snapshot.facts.get("left") or [] if isinstance(a, dict)],
        "counts": snapshot.facts.get("counts") or {},
    }


def _health_state(row: dict[str, Any] | None) -> str:
    if row is None:
        return "never"
    if row["failed"]:
        return "failed"
    return "running" if row["pending"] else "succeeded"


def subscription_vaults(*, source: Source, user) -> dict[str, Any] | None:
    """What the latest discovery of an Azure subscription ``source`` found, for its page and the
    API; ``None`` for a source that discovers no vaults (or never did).

    ``{"taken_at", "subscriptions", "vaults": [...], "left": [...], "not_assessed": [...],
    "counts"}``: each vault with its member source when ``user`` may view it, that source's
    health in its latest run and its vault-level facts."""
    snapshot = (
        Snapshot.objects.filter(source=source, facts__has_key="member_facts").order_by("-taken_at", "-pk").only("taken_at", "facts").first()
    )
    if snapshot is None:
        return None
    members, health = _members_health(source=source, user=user)
    facts = snapshot.facts
    member_facts = facts.get("member_facts") if isinstance(facts.get("member_facts"), dict) else {}
    vaults = []
    for entry in facts.get("vaults") or []:
        if not isinstance(entry, dict):
            continue
        member = members.get(str(entry.get("key")))
        row = health.get(member.pk) if member else None
        vaults.append(
            {**entry, "member": member, "health": _health_state(row), "health_row": row, "facts": member_facts.get(entry.get("key")) or {}}
        )
    return {
        "taken_at": snapshot.taken_at,
        "subscriptions": [s for s in facts.get("subscriptions") or [] if isinstance(s, dict)],
        "vaults": vaults,
        "left": [v for v in facts.get("left") or [] if isinstance(v, dict)],
        "not_assessed": [v for v in facts.get("not_assessed") or [] if isinstance(v, dict)],
        "counts": facts.get("counts") or {},
    }
