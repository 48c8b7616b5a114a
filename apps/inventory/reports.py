"""Plain-text figures of a collection run, for the command line."""

from __future__ import annotations

from collections import Counter

from apps.inventory.models import CollectionRun, Credential


def _short_name(source) -> str:
    # An organisation's member ("<org> / <account> (<id>)") is told apart by its end.
    name = source.name
    if len(name) > 24 and source.parent_id:
        return "…" + name[-23:]
    return name[:24]


def run_report_lines(run: CollectionRun) -> list[str]:
    units = list(run.units.select_related("source").order_by("source__name", "scope"))
    duration = f"{run.duration_seconds:.1f} s" if run.duration_seconds is not None else "—"
    lines = [f"collection run #{run.pk}: {run.status} ({run.get_trigger_display().lower()}), {len(units)} units, {duration}"]
    lines.append("")
    lines.append(f"{'source':<24} {'scope':<44} {'status':<10} {'creds':>6} {'new':>5} {'chg':>5} {'gone':>5} {'calls':>6} {'secs':>7}")
    calls: Counter = Counter()
    for u in units:
        c = u.counts or {}
        calls.update(u.api_calls or {})
        lines.append(
            f"{_short_name(u.source):<24} {u.scope[:44]:<44} {u.status:<10} {c.get('credentials', 0):>6} {c.get('created', 0):>5} "
            f"{c.get('changed', 0):>5} {c.get('disappeared', 0):>5} {sum((u.api_calls or {}).values()):>6} {c.get('seconds', 0):>7}"
        )
    by_type = Counter(
        Credential.objects.filter(source__in={u.source_id for u in units}, disappeared_at__isnull=True).values_list(
            "credential_type", flat=True
        )
    )
    lines.append("")
    lines.append("credentials present, by type: " + (", ".join(f"{t} {n}" for t, n in sorted(by_type.items())) or "none"))
    lines.append("API calls by operation: " + (", ".join(f"{op} {n}" for op, n in sorted(calls.items())) or "none"))
    errors = [(u, e) for u in units for e in (u.errors or [])]
    lines.append(f"errors: {len(errors)}")
    for u, e in errors[:50]:
        item = f" [{e.get('item')}]" if e.get("item") else ""
        lines.append(f"  {u.source.name} {u.scope}: {e.get('code')}: {e.get('message', '')[:300]}{item}")
    if len(errors) > 50:
        lines.append(f"  … and {len(errors) - 50} more (see the run's page)")
    return lines
