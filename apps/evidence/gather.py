"""Gathering an engagement's evidence as of a point in time into one :class:`PackData`.

Every renderer (PDF, XLSX, JSON, OSCAL) takes that and nothing else, so the four files
always say the same thing. Each app answers "as of T" through its own public selectors;
this module only composes them (docs/evidence-packs.md lists which selector gives which
section):

- inventory (``apps.inventory.as_of``): the credential and identity versions valid at T,
  coverage per source and scope, the collection runs, the sampled credentials' histories;
- posture (``apps.evaluation.selectors``): the last succeeded evaluation whose ``as_of`` is
  at or before T, its rule results, requirement statuses and findings (narrowed to the
  engagement's sources), and the posture per evaluation in the period;
- exceptions (``apps.exceptions_register.selectors``): their state rebuilt from their
  timestamps, with only the decisions taken by T;
- controls, audit extract, access reviews, catalog, organisation: their apps' selectors.

Composed here: the requirement sections (catalog + statuses + findings in scope +
controls), the summary, the sample and the key-age chart. The queries are set-based (a
fixed number per pack, none per row) and the large populations are streamed: the credentials
are counted in one pass and handed to the renderers as :class:`~apps.evidence.packdata.Rows`,
read again in chunks by each, so the pack's memory does not grow with the estate. Gathering
twice as of the same T gives equal data and the same pack.json bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime

from apps.accounts.sharing import object_shares
from apps.audit.selectors import audit_extract
from apps.catalog.selectors import RequirementInScope, requirements_in_scope
from apps.controls.evidence_status import manual_evidence_status
from apps.controls.selectors import ControlAsOf, control_ids, controls_as_of
from apps.core.isotime import iso_utc
from apps.core.selectors import organisation_name
from apps.evaluation.selectors import (
    evaluation_as_of,
    finding_counts_in_scope,
    iter_findings_in_scope,
    posture_history,
    requirement_statuses,
    rule_results,
)
from apps.evaluation.selectors.as_of import FindingAsOf, StatusAsOf
from apps.evidence.disclosure import PackScope, audit_filter
from apps.evidence.models import Engagement, Pack
from apps.evidence.packdata import (
    AGE_BUCKETS,
    Charts,
    FindingRows,
    InScope,
    PackData,
    RequirementSection,
    Rows,
    Sample,
    SampleFinding,
    SampleItem,
    Summary,
)
from apps.exceptions_register.selectors import ExceptionAsOf, exceptions_as_of, exceptions_in_scope
from apps.inventory.as_of import (
    CredentialAsOf,
    IdentityAsOf,
    SourceCoverage,
    collection_runs_between,
    coverage_as_of,
    credential_histories,
    identities_as_of,
    iter_credentials_as_of,
    sources_in_scope,
)
from apps.reviews.selectors import campaigns_for_pack, decisions_for_credentials

POSTURE_POINTS = 24  # at most this many evaluations drawn in the posture chart
SAMPLE_METHOD = "Python random.Random(seed).sample over the credential ids present as of the pack's time, sorted ascending"

Progress = Callable[[int, str], None]


def default_seed(*, engagement_id: int, as_of: datetime) -> int:
    """The sample seed when the auditor names none: fixed by engagement and as-of time, so a
    rebuild as of the same time draws the same sample."""
    digest = hashlib.sha256(f"{engagement_id}|{iso_utc(as_of)}".encode()).hexdigest()
    return int(digest[:12], 16)


def gather(*, engagement: Engagement, as_of: datetime, sample_size: int, sample_seed: int, progress: Progress | None = None) -> PackData:
    """The pack's data as of ``as_of``. ``progress(percent, stage)`` is called between steps."""
    step: Progress = progress or (lambda percent, stage: None)
    chosen_sources = list(engagement.sources.order_by("id").values_list("id", flat=True))
    sources = sources_in_scope(ids=chosen_sources)
    source_ids = [s["id"] for s in sources]
    requirements = requirements_in_scope(ids=list(engagement.requirements.values_list("id", flat=True)))
    requirement_ids = [r.id for r in requirements]
    start = datetime.combine(engagement.period_start, datetime.min.time(), tzinfo=UTC)

    step(5, "inventory as of")
    identities = identities_as_of(source_ids=source_ids, as_of=as_of)

    def credential_rows(types: tuple[str, ...] | None = None, ids: list[int] | None = None) -> Iterator[CredentialAsOf]:
        return iter_credentials_as_of(source_ids=source_ids, as_of=as_of, identities=identities, types=types, ids=ids)

    # The credentials are the pack's largest population: counted here in one streamed pass, then
    # read again by each renderer (packdata.Rows), never all held at once.
    census = _Census()
    for c in credential_rows():
        census.add(c)
    credentials = Rows(credential_rows, census.count)
    step(20, "posture")
    evaluation = evaluation_as_of(as_of=as_of)
    exceptions = exceptions_as_of(as_of=as_of)  # narrowed to the scope below, once the findings name theirs
    # The findings are the other large population: counted by PostgreSQL here (per rule, status and
    # exception), then read by rule and id by each renderer (packdata.FindingRows), never all held.
    findings: FindingRows[FindingAsOf] | list[FindingAsOf] = []
    census.findings(evaluation["id"] if evaluation is not None else None, source_ids)
    exception_refs = {e["id"]: e["ref"] for e in exceptions}  # before the narrowing: the findings name theirs
    source_names = {s["id"]: s["name"] for s in sources}

    def finding_rows(rule_ids: tuple[str, ...] | None = None, credential_ids: list[int] | None = None) -> Iterator[FindingAsOf]:
        assert evaluation is not None
        return iter_findings_in_scope(
            evaluation_id=evaluation["id"],
            sources=source_names,
            exception_refs=exception_refs,
            rule_ids=rule_ids,
            credential_ids=credential_ids,
        )

    statuses: dict[int, StatusAsOf] = {}
    if evaluation is not None:
        findings = FindingRows(finding_rows, census.findings_per_rule())
        statuses = requirement_statuses(evaluation_id=evaluation["id"])
    rules = rule_results(evaluation_id=evaluation["id"]) if evaluation is not None else []
    # Least disclosure (docs/evidence-packs.md): only what the engagement's auditors may see.
    exceptions = exceptions_in_scope(
        exceptions,
        source_ids=source_ids if chosen_sources else None,
        rule_ids={rule for r in requirements for rule in r.rule_ids},
        tags=census.tags | _tags(identities.values()),
        keep={e["id"] for e in exceptions if e["id"] in census.excepting},
    )
    auditors = [user for user, perms in object_shares(engagement) if "view_engagement" in perms]
    controls = controls_as_of(requirement_ids=requirement_ids, as_of=as_of, viewers=auditors)
    on = min(as_of.astimezone(UTC).date(), engagement.period_end)
    reqs = _requirements(requirements, statuses, census.by_rule, controls, on=on, period_start=engagement.period_start)
    step(35, "coverage and history")
    coverage = coverage_as_of(sources=sources, as_of=as_of)
    runs = collection_runs_between(source_ids=source_ids, start=start, as_of=as_of)
    campaigns = campaigns_for_pack(as_of=as_of, source_ids=source_ids)
    if chosen_sources:  # a campaign none of whose items is in scope is another scope's
        campaigns = [c for c in campaigns if c["items"]]
    scope = PackScope(
        engagement_id=engagement.id,
        pack_ids=PackScope.ids(Pack.objects.filter(engagement=engagement).values_list("id", flat=True)),
        source_ids=PackScope.ids(source_ids),
        source_names=frozenset(s["name"] for s in sources),
        run_ids=PackScope.ids(r["id"] for r in runs),
        exception_ids=PackScope.ids(e["id"] for e in exceptions),
        control_ids=PackScope.ids(control_ids(refs=[c["ref"] for c in controls])),
        campaign_ids=PackScope.ids(c["id"] for c in campaigns),
        item_ids=PackScope.ids(i["id"] for c in campaigns for i in c["items"]),
        remediation_ids=PackScope.ids(r["id"] for c in campaigns for r in c["remediation"]),
    )
    audit = audit_extract(start=start, end=as_of, keep=audit_filter(scope))
    step(45, "sample")
    sample = _sample(
        census.ids,
        lambda ids: credential_rows(ids=ids),
        (lambda ids: finding_rows(credential_ids=ids)) if evaluation is not None else (lambda ids: iter(())),
        sample_size,
        sample_seed,
        as_of,
    )
    charts: Charts = {
        "key_age": census.key_age(),
        "posture": posture_history(start=start, end=as_of, requirement_ids=requirement_ids, points=POSTURE_POINTS),
    }
    return PackData(
        organisation=organisation_name(),
        engagement={
            "id": engagement.id,
            "name": engagement.name,
            "period_start": engagement.period_start.isoformat(),
            "period_end": engagement.period_end.isoformat(),
            "source_ids": source_ids,
            "requirement_refs": [r.ref for r in requirements],
            "all_sources": not chosen_sources,
        },
        as_of=iso_utc(as_of),
        evaluation=evaluation,
        summary=_summary(reqs, census, identities, exceptions, coverage),
        requirements=reqs,
        controls=controls,
        rules=rules,
        findings=findings,
        exceptions=exceptions,
        campaigns=campaigns,
        sources=coverage,
        collection_runs=runs,
        credentials=credentials,
        identities=list(identities.values()),
        sample=sample,
        audit_extract=audit,
        charts=charts,
    )


def _requirements(
    requirements: list[RequirementInScope],
    statuses: dict[int, StatusAsOf],
    by_rule: dict[str, Counter[str]],
    controls: list[ControlAsOf],
    *,
    on: date,
    period_start: date,
) -> list[RequirementSection]:
    """Each requirement in scope with its status in the evaluation, the findings about the
    sources in scope by status (``by_rule``: rule id -> status -> count), and the controls that serve it. A requirement no rule tests has
    the status its controls' manual evidence shows for the audit period (evidenced, evidence
    missing or evidence stale, on ``on``: the as-of day, or the period's end if earlier)."""
    out: list[RequirementSection] = []
    for r in requirements:
        st = statuses.get(r.id)
        in_scope: Counter[str] = Counter()
        for rule_id in r.rule_ids:
            in_scope.update(by_rule.get(rule_id, {}))
        evidence = [
            (date.fromisoformat(e["effective_date"]), c["test_frequency"])
            for c in controls
            if r.ref in c["requirements"] and c["implementation_status"] != "not_applicable"
            for e in c["evidence"]
        ]
        manual_status = ""
        if r.coverage == "partial":  # rules prove part of it; manual evidence the rest (ADR 0016)
            manual_status = manual_evidence_status(evidence, on=on, period_start=period_start)
        if not r.rule_ids:
            status = manual_evidence_status(evidence, on=on, period_start=period_start)
        elif st is not None:
            status = st["status"]
        else:
            status = "not_assessed"
        scoped: InScope = {
            "failed": in_scope.get("fail", 0),
            "excepted": in_scope.get("excepted", 0),
            "not_assessed": in_scope.get("not_assessed", 0),
        }
        out.append(
            {
                "ref": r.ref,
                "clause": r.clause_ref,
                "title": r.title,
                "statement": r.statement,
                "automatable": r.automatable,
                "rule_ids": list(r.rule_ids),
                "coverage": r.coverage,
                "rules_cover": r.rules_cover,
                "manual_evidence_for": r.manual_evidence_for,
                "manual_status": manual_status,
                "status": status,
                "population": st["population"] if st else 0,
                "failed": st["failed"] if st else 0,
                "excepted": st["excepted"] if st else 0,
                "not_assessed": st["not_assessed"] if st else 0,
                "in_scope": scoped,
                "controls": [c["ref"] for c in controls if r.ref in c["requirements"]],
            }
        )
    return out


def _sample(
    population: list[int],
    rows: Callable[[list[int]], Iterable[CredentialAsOf]],
    findings: Callable[[list[int]], Iterable[FindingAsOf]],
    size: int,
    seed: int,
    as_of: datetime,
) -> Sample:
    """``size`` credentials drawn with ``seed`` from those present as of (``population``: their
    ids, ascending; ``rows(ids)``: those credentials; ``findings(ids)``: their findings by rule
    and id), each traced through its versions,
    lifecycle events, findings and review decisions up to then."""
    chosen = sorted(random.Random(seed).sample(population, min(size, len(population))))
    by_id = {c["id"]: c for c in rows(chosen)} if chosen else {}
    history = credential_histories(credential_ids=chosen, as_of=as_of)
    failing: dict[int, list[SampleFinding]] = defaultdict(list)
    for f in findings(chosen) if chosen else ():
        if f["credential_id"] is not None:
            failing[f["credential_id"]].append({"rule_id": f["rule_id"], "status": f["status"], "reason": f["reason"]})
    decisions = decisions_for_credentials(chosen, as_of=as_of)
    items: list[SampleItem] = []
    for cid in chosen:
        c = by_id[cid]
        lifecycle = history.events.get(cid, [])
        items.append(
            {
                "credential_id": cid,
                "name": c["name"],
                "credential_type": c["credential_type"],
                "source_id": c["source_id"],
                "identity": c["identity"],
                "owner": c["owner"],
                "enabled": c["enabled"],
                "first_seen_at": history.first_seen_at.get(cid),
                "created_at": c["created_at"],
                "last_rotated_at": c["last_rotated_at"],
                "rotations": sum(1 for e in lifecycle if e["kind"] == "rotated"),
                "revoked_at": next((e["observed_at"] for e in reversed(lifecycle) if e["kind"] in ("deactivated", "disappeared")), None),
                "versions": history.versions.get(cid, []),
                "events": lifecycle,
                "findings": failing.get(cid, []),
                "review_decisions": decisions.get(cid, []),
            }
        )
    return {"size": size, "seed": seed, "population": len(population), "method": SAMPLE_METHOD, "items": items}


def _tags(rows: Iterable[CredentialAsOf | IdentityAsOf]) -> set[tuple[str, str]]:
    """Every (key, value) tag the subjects in ``rows`` carry as of the pack's time."""
    return {(str(k), str(v)) for row in rows for k, v in (row.get("tags") or {}).items()}


class _Census:
    """What the pack needs from the whole credential population, counted in one pass: the ids
    (for the sample), the count per type, the key-age chart and the tags (for least disclosure);
    and from the findings, counted by PostgreSQL: per rule and status (the requirements' counts),
    per status (the summary) and the exceptions they name (least disclosure)."""

    def __init__(self) -> None:
        self.ids: list[int] = []  # ascending: the rows come ordered by id
        self.by_type: Counter[str] = Counter()
        self.tags: set[tuple[str, str]] = set()
        self._ages: dict[str, dict[str, int]] = {}
        self.by_rule: dict[str, Counter[str]] = defaultdict(Counter)
        self.finding_statuses: Counter[str] = Counter()
        self.excepting: set[int] = set()

    @property
    def count(self) -> int:
        return len(self.ids)

    def add(self, c: CredentialAsOf) -> None:
        self.ids.append(c["id"])
        self.by_type[c["credential_type"]] += 1
        self.tags.update((str(k), str(v)) for k, v in (c.get("tags") or {}).items())
        age = c["age_days"]
        if age is None:
            return
        row = self._ages.setdefault(c["credential_type"], {label: 0 for _, _, label in AGE_BUCKETS})
        for lo, hi, label in AGE_BUCKETS:
            if age >= lo and (hi is None or age <= hi):
                row[label] += 1
                break

    def findings(self, evaluation_id: int | None, source_ids: list[int]) -> None:
        if evaluation_id is None:
            return
        for rule_id, status, exception_id, n in finding_counts_in_scope(evaluation_id=evaluation_id, source_ids=source_ids):
            self.by_rule[rule_id][status] += n
            self.finding_statuses[status] += n
            if exception_id is not None:
                self.excepting.add(exception_id)

    def findings_per_rule(self) -> dict[str, int]:
        return {rule_id: sum(counts.values()) for rule_id, counts in self.by_rule.items()}

    def key_age(self) -> dict[str, dict[str, int]]:
        """Per credential type, how many credentials fall in each age bucket (unknown ages left out)."""
        return dict(sorted(self._ages.items()))


def _summary(
    reqs: list[RequirementSection],
    census: _Census,
    identities: dict[int, IdentityAsOf],
    exceptions: list[ExceptionAsOf],
    coverage: list[SourceCoverage],
) -> Summary:
    statuses = Counter(r["status"] for r in reqs)
    scopes = [s for src in coverage for s in src["scopes"]]
    return {
        "requirements": dict(sorted(statuses.items())),
        "credentials": census.count,
        "identities": len(identities),
        "credentials_by_type": dict(sorted(census.by_type.items())),
        "findings": dict(sorted(census.finding_statuses.items())),
        "exceptions_in_force": sum(1 for e in exceptions if e["in_force"]),
        "scopes": len(scopes),
        "scopes_failing": sum(1 for s in scopes if s["last_status"] == "failed"),
    }
