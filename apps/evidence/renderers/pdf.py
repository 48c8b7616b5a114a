"""The PDF for people: WeasyPrint from a Django template, with a print stylesheet.

The renderer fetches nothing it was not given. WeasyPrint's default fetcher reads
``file://`` paths and makes HTTP requests; :class:`PackURLFetcher` serves only the pack's
own in-memory assets (``keytrail-asset:NAME``) and refuses every other URL (recording it).
Charts are inline SVG drawn in Python; fonts come from the system (fontconfig), not URLs.

The PDF stays tens of pages at any population size: tables of failures, exceptions, the
audit extract and the sample are capped, each with the count of the rows left out and a
pointer to the spreadsheet, where the full populations are.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from apps.connectors.kinds import CredentialKind
from apps.core.isotime import parse_iso
from apps.evaluation.charts import PosturePoint, posture_chart, svg_join, svg_number
from apps.evaluation.selectors.as_of import PostureAt
from apps.evidence.packdata import AGE_BUCKETS, PackData, findings_by_rule, of_types

ASSET_SCHEME = "keytrail-asset:"
STYLESHEET = Path(__file__).resolve().parent / "pack.css"
CAP_FAILURES = 8  # per rule, per sub-requirement
CAP_EXCEPTIONS = 40
CAP_AUDIT = 60
CAP_SAMPLE = 30
CAP_REVIEW_ITEMS = 25
CAP_RUNS = 20


class RefusedURL(ValueError):
    """A URL the pack's renderer will not fetch (WeasyPrint logs it and leaves it out)."""


class PackURLFetcher(URLFetcher):
    """Serves ``keytrail-asset:NAME`` from ``assets`` ({name: (bytes, content type)}); refuses
    everything else — ``file:``, ``http(s):``, ``data:``, ``ftp:`` — and lists what it refused."""

    def __init__(self, assets: dict[str, tuple[bytes, str]]):
        super().__init__()
        self.assets = dict(assets)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith(ASSET_SCHEME) and url[len(ASSET_SCHEME) :] in self.assets:
            body, content_type = self.assets[url[len(ASSET_SCHEME) :]]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})
        self.refused.append(url)
        raise RefusedURL(f"the evidence pack renderer fetches only its own assets; refused {url[:200]}")


def key_age_chart(key_age: dict[str, dict[str, int]], *, width: int = 700) -> SafeString:
    """Horizontal stacked bars: per credential type, how many keys fall in each age bucket."""
    fills = ["#1e7a4c", "#6aa84f", "#d89a2b", "#e06c2b", "#b3261e"]
    labels = [label for _, _, label in AGE_BUCKETS]
    row_h, left, top = 22, 150, 30
    height = top + max(1, len(key_age)) * (row_h + 8) + 10
    plot_w = width - left - 60
    parts = []
    x = left
    for label, fill in zip(labels, fills, strict=False):
        parts.append(format_html('<rect x="{}" y="6" width="10" height="10" fill="{}"/>', x, fill))
        parts.append(format_html('<text x="{}" y="15" font-size="10" fill="#1b2430">{} days</text>', x + 14, label))
        x += 14 + 6 * len(label) + 40
    for i, (ctype, buckets) in enumerate(key_age.items()):
        y = top + i * (row_h + 8)
        total = sum(buckets.values()) or 1
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#1b2430">{}</text>', left - 6, y + 15, ctype.replace("_", " ")
            )
        )
        bar_x = float(left)
        for label, fill in zip(labels, fills, strict=False):
            n = buckets.get(label, 0)
            if n <= 0:
                continue
            w = plot_w * n / total
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} in {} days</title></rect>',
                    svg_number(bar_x),
                    y,
                    svg_number(w),
                    row_h,
                    fill,
                    ctype,
                    n,
                    label,
                )
            )
            bar_x += w
        parts.append(format_html('<text x="{}" y="{}" font-size="10" fill="#5d6b7a">{}</text>', left + plot_w + 6, y + 15, total))
    if not key_age:
        parts.append(
            format_html('<text x="{}" y="{}" font-size="11" fill="#5d6b7a">{}</text>', left, top + 15, "No credentials as of this time")
        )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="Key age by credential type">{body}</svg>',
        w=width,
        h=height,
        body=svg_join(parts),
    )


def _posture_svg(points: list[PostureAt]) -> SafeString:
    return posture_chart(
        [PosturePoint(label=f"#{p['evaluation_id']} · {p['as_of'][:16]}", tick=p["as_of"][5:10], counts=p["counts"]) for p in points],
        width=700,
        height=220,
    )


def _capped(rows: list, cap: int) -> tuple[list, int]:
    return rows[:cap], max(0, len(rows) - cap)


def _earliest(rows: Iterable[Any], *, key: Callable[[Any], Any], cap: int) -> tuple[list, int]:
    """``(sorted(rows, key=key)[:cap], len(rows))`` holding ``cap`` rows at a time (``heapq.nsmallest``
    is that slice, ties in their order)."""
    total = 0

    def counted() -> Iterator[Any]:
        nonlocal total
        for row in rows:
            total += 1
            yield row

    first = heapq.nsmallest(cap, counted(), key=key)
    return first, total


def _first(rows: Iterable[Any], cap: int) -> list:
    """The first ``cap`` of ``rows``, the rest never read (a streamed rule's query is closed)."""
    it = iter(rows)
    try:
        return list(itertools.islice(it, cap))
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def pdf_context(data: PackData, *, pack_id: str, built_at: str, keytrail_version: str) -> dict:
    """Everything the template shows, capped; the template only formats."""
    rules = {r["rule_id"]: r for r in data.rules}
    controls = {c["ref"]: c for c in data.controls}
    failing = findings_by_rule(data.findings)
    capped: dict[str, tuple[list, int, int]] = {}  # rule id -> (its first findings, how many more, total)
    exceptions_in_force = [e for e in data.exceptions if e["in_force"]]
    sections = []
    for r in data.requirements:
        rule_rows = []
        for rule_id in r["rule_ids"]:
            if rule_id not in capped:
                total, rows = failing(rule_id)
                shown = _first(rows, CAP_FAILURES) if total else []
                capped[rule_id] = (shown, max(0, total - CAP_FAILURES), total)
            shown, more, total = capped[rule_id]
            rule_rows.append(
                {
                    "rule": rules.get(rule_id, {"rule_id": rule_id, "status": "not_assessed"}),
                    "failures": shown,
                    "more": more,
                    "total": total,
                }
            )
        sections.append(
            {
                "req": r,
                "controls": [controls[c] for c in r["controls"] if c in controls],
                "rules": rule_rows,
                "exceptions": [e for e in exceptions_in_force if set(e["rule_ids"]) & set(r["rule_ids"])],
            }
        )
    exceptions, more_exceptions = _capped(data.exceptions, CAP_EXCEPTIONS)
    events = data.audit_extract["events"]
    audit_shown, audit_more = events[-CAP_AUDIT:], max(0, len(events) - CAP_AUDIT)
    sample, sample_more = _capped(data.sample["items"], CAP_SAMPLE)
    runs = data.collection_runs[-CAP_RUNS:]
    campaigns = []
    for c in data.campaigns:
        items, more_items = _capped(c.get("items", []), CAP_REVIEW_ITEMS)
        decided = sum(1 for i in c.get("items", []) if i.get("decision"))
        remediation = c.get("remediation", [])
        campaigns.append(
            {
                "c": c,
                "items": items,
                "more_items": more_items,
                "decided": decided,
                "remediation": remediation[:CAP_REVIEW_ITEMS],
                "more_remediation": max(0, len(remediation) - CAP_REVIEW_ITEMS),
                "verified": sum(1 for x in remediation if x.get("verified_at")),
            }
        )
    sources = {s["id"]: s["name"] for s in data.sources}
    labels = dict(CredentialKind.choices)
    # The credentials of these kinds are read as a stream and counted: the PDF shows the first few
    # by expiry and totals, never holds them all (the spreadsheet has the full rows).
    certificates, certificates_total = _earliest(
        of_types(data.credentials, (CredentialKind.SERVER_CERTIFICATE.value,)),
        key=lambda c: c["expires_at"] or "9999",
        cap=CAP_FAILURES,
    )
    vault_certificates, vault_certificates_total = _earliest(
        of_types(data.credentials, (CredentialKind.KV_CERTIFICATE.value,)),
        key=lambda c: c["expires_at"] or "0000",  # no expiry first: the rule fails those
        cap=CAP_FAILURES,
    )
    vault_keys = {"total": 0, "rotation_policy": 0, "no_rotation_policy": 0, "no_expiry": 0}
    for c in of_types(data.credentials, (CredentialKind.KV_KEY.value,)):
        vault_keys["total"] += 1
        vault_keys["rotation_policy"] += c.get("rotation_enabled") is True
        vault_keys["no_rotation_policy"] += c.get("rotation_enabled") is False
        vault_keys["no_expiry"] += not c["expires_at"]
    secure_strings = {"total": 0, "with_expiration": 0, "advanced": 0}
    for c in of_types(data.credentials, (CredentialKind.SSM_SECURE_STRING.value,)):
        secure_strings["total"] += 1
        secure_strings["with_expiration"] += bool(c["expires_at"])
        secure_strings["advanced"] += (c.get("details") or {}).get("tier") == "Advanced"
    entra = of_types(data.credentials, (CredentialKind.ENTRA_CLIENT_SECRET.value, CredentialKind.ENTRA_CERTIFICATE.value))
    return {
        "d": data,
        "pack_id": pack_id,
        "built_at": built_at,
        "keytrail_version": keytrail_version,
        "sources_in_scope": [sources.get(i, str(i)) for i in data.engagement["source_ids"]],
        "sections": sections,
        "exceptions": exceptions,
        "more_exceptions": more_exceptions,
        "audit_events": audit_shown,
        "audit_more": audit_more,
        "sample": sample,
        "sample_more": sample_more,
        "runs": runs,
        "runs_more": max(0, len(data.collection_runs) - CAP_RUNS),
        "campaigns": campaigns,
        "key_age_svg": key_age_chart(data.charts["key_age"]),
        "posture_svg": _posture_svg(data.charts["posture"]),
        "caps": {"failures": CAP_FAILURES},
        "credential_types": [(labels.get(k, k), n) for k, n in data.summary["credentials_by_type"].items()],
        "server_certificates": certificates,
        "server_certificates_more": max(0, certificates_total - CAP_FAILURES),
        "vault_certificates": vault_certificates,
        "vault_certificates_more": max(0, vault_certificates_total - CAP_FAILURES),
        "vault_keys": vault_keys,
        "secure_strings": {
            **secure_strings,
            "plaintext_secret_like": data.summary["credentials_by_type"].get(CredentialKind.SSM_PLAINTEXT_PARAMETER, 0),
        },
        "entra": _entra_summary(entra, data.as_of),
    }


def _entra_summary(credentials: Iterable[Any], as_of: str) -> dict[str, int]:
    """Counts over Entra ID application credentials for the summary line (full rows: the sheet),
    in one pass over them."""
    now = parse_iso(as_of)
    out = {"total": 0, "secrets": 0, "expired": 0, "ownerless": 0, "foreign": 0}
    for c in credentials:
        details = c.get("details") or {}
        end = parse_iso(c["expires_at"])
        out["total"] += 1
        out["secrets"] += c["credential_type"] == CredentialKind.ENTRA_CLIENT_SECRET
        out["expired"] += end is not None and now is not None and end <= now
        out["ownerless"] += details.get("owners") == []
        out["foreign"] += details.get("foreign_tenant") is True
    return out


def render_html(data: PackData, *, pack_id: str, built_at: str) -> str:
    context = pdf_context(data, pack_id=pack_id, built_at=built_at, keytrail_version=settings.KEYTRAIL_VERSION)
    return render_to_string("evidence/pdf/pack.html", context)


def render_pdf(data: PackData, path: Path, *, pack_id: str, built_at: str) -> PackURLFetcher:
    """Write the PDF for ``data`` to ``path``; returns the fetcher (with what it refused)."""
    html = render_html(data, pack_id=pack_id, built_at=built_at)
    fetcher = PackURLFetcher({"pack.css": (STYLESHEET.read_bytes(), "text/css")})
    HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=fetcher).write_pdf(str(path))
    return fetcher
