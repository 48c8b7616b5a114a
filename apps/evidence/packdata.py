"""The evidence pack's data: what :func:`apps.evidence.gather.gather` composes from the
apps' as-of selectors and what every renderer (PDF, XLSX, JSON, OSCAL) reads, so the four
files always say the same thing.

Each section is typed with the row shape its owning app promises (``apps.inventory.as_of``,
``apps.evaluation.selectors.as_of``, ``apps.exceptions_register.selectors``, ...); the
sections composed here (engagement, requirements, summary, sample, charts) are typed below.
Values are plain JSON types: times are ISO 8601 UTC strings, lists have a stable order, so
:meth:`PackData.as_dict` is pack.json (apps/evidence/schema/pack.schema.json).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar

from apps.audit.selectors import AuditExtract
from apps.controls.selectors import ControlAsOf
from apps.evaluation.selectors.as_of import EvaluationAsOf, FindingAsOf, PostureAt, RuleResultAsOf
from apps.exceptions_register.selectors import ExceptionAsOf
from apps.inventory.as_of import CredentialAsOf, EventAsOf, IdentityAsOf, RunAsOf, SourceCoverage, VersionAsOf

SCHEMA_ID = "https://keytrail.example/schema/evidence-pack/2"
# 2: credentials carry last_used_source and last_used_as_of; 3: and details; 4: a requirement no
# rule tests is evidenced / evidence_missing / evidence_stale (was "manual").
SCHEMA_VERSION = "4"
# Key-age buckets (days since the last rotation, or creation when never rotated): (from, to or None, label).
AGE_BUCKETS: list[tuple[int, int | None, str]] = [
    (0, 30, "0-30"),
    (31, 90, "31-90"),
    (91, 180, "91-180"),
    (181, 365, "181-365"),
    (366, None, "over 365"),
]


T = TypeVar("T")


class Rows(Generic[T]):
    """A population too large to hold: read again, chunk by chunk, each time it is iterated
    (``rows(types)`` gives the rows whose credential type is in ``types``, or all of them for
    ``None``); its length is known. Every pass gives the same rows in the same order (the
    gatherer's queries are as of a fixed time), so each renderer reads what the others read."""

    def __init__(self, rows: Callable[[tuple[str, ...] | None], Iterator[T]], count: int):
        self._rows, self._count = rows, count

    def __iter__(self) -> Iterator[T]:
        return self._rows(None)

    def __len__(self) -> int:
        return self._count

    def of_types(self, types: tuple[str, ...]) -> Iterator[T]:
        return self._rows(types)


def of_types(rows: Iterable[Any], types: tuple[str, ...]) -> Iterator[Any]:
    """The credentials of ``rows`` (a :class:`Rows` or a list) whose type is one of ``types``, in order."""
    if isinstance(rows, Rows):
        return rows.of_types(types)
    return (c for c in rows if c["credential_type"] in types)


class FindingRows(Rows[T]):
    """The findings as a :class:`Rows`: read again from PostgreSQL (by rule then id) each time
    they are iterated; ``of_rules(rule_ids)`` reads only those rules' findings; ``per_rule``
    ({rule id: count}) is known without reading them."""

    def __init__(self, rows: Callable[[tuple[str, ...] | None], Iterator[T]], per_rule: dict[str, int]):
        super().__init__(rows, sum(per_rule.values()))
        self.per_rule = per_rule

    def of_rules(self, rule_ids: tuple[str, ...]) -> Iterator[T]:
        if not any(self.per_rule.get(r) for r in rule_ids):
            return iter(())
        return self._rows(rule_ids)


def findings_by_rule(findings: Iterable[Any]) -> Callable[[str], tuple[int, Iterable[Any]]]:
    """For the findings (a :class:`FindingRows` or a list): ``rule_id -> (count, its findings in order)``;
    a :class:`FindingRows` reads a rule's findings only when they are iterated."""
    if isinstance(findings, FindingRows):
        rows = findings
        return lambda rule_id: (rows.per_rule.get(rule_id, 0), _Lazy(lambda: rows.of_rules((rule_id,))))
    grouped: dict[str, list[Any]] = {}
    for f in findings:
        grouped.setdefault(f["rule_id"], []).append(f)
    return lambda rule_id: (len(grouped.get(rule_id, [])), grouped.get(rule_id, []))


class _Lazy(Generic[T]):
    def __init__(self, rows: Callable[[], Iterator[T]]):
        self._rows = rows

    def __iter__(self) -> Iterator[T]:
        return self._rows()


class EngagementInfo(TypedDict):
    id: int
    name: str
    period_start: str
    period_end: str
    source_ids: list[int]
    requirement_refs: list[str]
    all_sources: bool  # no source chosen: every source is in scope


class InScope(TypedDict):
    failed: int
    excepted: int
    not_assessed: int


class RequirementSection(TypedDict):
    ref: str
    clause: str
    title: str
    statement: str
    automatable: bool
    rule_ids: list[str]
    # What proves it (ADR 0016): rules | partial | manual; the part its rules prove; the part manual
    # evidence must show; for a partial one, what its controls' manual evidence shows for that part.
    coverage: str
    rules_cover: str
    manual_evidence_for: str
    manual_status: str
    # Tested by rules: its status in the evaluation as of (not_assessed without one). No rule tests it:
    # evidenced, evidence_missing or evidence_stale from its controls' evidence (apps/controls/evidence_status.py).
    status: str
    population: int
    failed: int
    excepted: int
    not_assessed: int
    in_scope: InScope  # findings about the sources in scope
    controls: list[str]


class Summary(TypedDict):
    requirements: dict[str, int]
    credentials: int
    identities: int
    credentials_by_type: dict[str, int]
    findings: dict[str, int]
    exceptions_in_force: int
    scopes: int
    scopes_failing: int


class SampleFinding(TypedDict):
    rule_id: str
    status: str
    reason: str


class SampleItem(TypedDict):
    credential_id: int
    name: str
    credential_type: str
    source_id: int
    identity: str | None
    owner: str
    enabled: bool | None
    first_seen_at: str | None
    created_at: str | None
    last_rotated_at: str | None
    rotations: int
    revoked_at: str | None
    versions: list[VersionAsOf]
    events: list[EventAsOf]
    findings: list[SampleFinding]
    review_decisions: list[dict[str, Any]]  # apps.reviews.selectors.decisions_for_credentials


class Sample(TypedDict):
    size: int
    seed: int
    population: int
    method: str
    items: list[SampleItem]


class Charts(TypedDict):
    key_age: dict[str, dict[str, int]]  # credential type -> age bucket label -> count
    posture: list[PostureAt]


@dataclass
class PackData:
    """One engagement's evidence as of one time; ``as_dict()`` is pack.json."""

    organisation: str
    engagement: EngagementInfo
    as_of: str
    evaluation: EvaluationAsOf | None
    summary: Summary
    requirements: list[RequirementSection]
    controls: list[ControlAsOf]
    rules: list[RuleResultAsOf]
    findings: FindingRows[FindingAsOf] | list[FindingAsOf]  # streamed from the database by the gatherer
    exceptions: list[ExceptionAsOf]
    campaigns: list[dict[str, Any]]  # apps.reviews.selectors.campaigns_for_pack (docs/reviews.md)
    sources: list[SourceCoverage]
    collection_runs: list[RunAsOf]
    credentials: Rows[CredentialAsOf] | list[CredentialAsOf]  # streamed from the database by the gatherer
    identities: list[IdentityAsOf]
    sample: Sample
    audit_extract: AuditExtract
    charts: Charts

    def as_dict(self) -> dict[str, Any]:
        """pack.json's members (the sections themselves, not copies; a streamed population
        stays a :class:`Rows`, which :func:`apps.evidence.renderers.jsondata.write_json` writes
        row by row)."""
        return {
            "$schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "organisation": self.organisation,
            "engagement": self.engagement,
            "as_of": self.as_of,
            "evaluation": self.evaluation,
            "summary": self.summary,
            "requirements": self.requirements,
            "controls": self.controls,
            "rules": self.rules,
            "findings": self.findings,
            "exceptions": self.exceptions,
            "campaigns": self.campaigns,
            "sources": self.sources,
            "collection_runs": self.collection_runs,
            "credentials": self.credentials,
            "identities": self.identities,
            "sample": self.sample,
            "audit_extract": self.audit_extract,
            "charts": self.charts,
        }
