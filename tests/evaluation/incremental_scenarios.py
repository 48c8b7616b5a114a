"""Incremental evaluation gives exactly what a cold evaluation gives: after each kind of change
(facts, identity facts, access reviews, exceptions, policy, catalog, source-level facts, time), an
incremental evaluation and a cold one at the same instant store the same findings, rule results,
requirement statuses and counts. Shared by the PostgreSQL test and the SQLite one (which runs
:func:`run_all` in a subprocess against a freshly migrated SQLite file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.catalog.models import CatalogVersion
from apps.evaluation.models import Evaluation, Finding, RequirementStatus, RuleResult
from apps.evaluation.services import evaluation_run, policy_current, policy_update
from apps.inventory.models import Credential, Identity, Snapshot

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

FINDING_FIELDS = (
    "rule_id",
    "status",
    "severity",
    "subject_type",
    "source_id",
    "credential_id",
    "identity_id",
    "snapshot_id",
    "subject_label",
    "reason",
    "data",
    "exception_id",
    "owner",
    "failing_since",
    "due_on",
)


def stored(evaluation: Evaluation) -> dict:
    """Everything an evaluation shows: its findings, rule results, requirement statuses, counts."""
    findings = sorted(
        (tuple(repr(v) for v in row) for row in Finding.objects.filter(evaluation=evaluation).values_list(*FINDING_FIELDS)),
    )
    rules = sorted(
        RuleResult.objects.filter(evaluation=evaluation).values_list(
            "rule_id", "status", "population", "failed", "excepted", "not_assessed", "covered", "note"
        )
    )
    requirements = sorted(
        RequirementStatus.objects.filter(evaluation=evaluation).values_list(
            "requirement_id", "status", "population", "failed", "excepted", "not_assessed"
        )
    )
    counts = {k: v for k, v in evaluation.counts.items() if k not in {"seconds", "carried", "judged"}}
    return {"findings": findings, "rules": rules, "requirements": requirements, "counts": counts}


def compare(now: datetime) -> Evaluation:
    """An incremental evaluation at ``now`` and a cold one at the same instant: the same verdicts."""
    incremental = evaluation_run(now=now)
    cold = evaluation_run(now=now, incremental=False)
    assert cold.carried == 0 and cold.judged == incremental.carried + incremental.judged
    a, b = stored(incremental), stored(cold)
    for part in a:
        assert a[part] == b[part], f"{part} differ after an incremental evaluation at {now}"
    return incremental


def run_all(actor, seed_inventory, exception_factory, campaign_factory) -> list[tuple[str, int, int]]:
    """Every scenario in turn; returns (scenario, carried, judged) of each incremental evaluation."""
    out = []

    def step(name: str, now: datetime, *, expect_cold: bool = False) -> Evaluation:
        evaluation = compare(now)
        out.append((name, evaluation.carried, evaluation.judged))
        if expect_cold:
            assert evaluation.carried == 0, name
        else:
            assert evaluation.carried > 0, name
        return evaluation

    seed_inventory(credentials=240, seed=11, now=NOW - timedelta(days=1), actor=actor)
    first = evaluation_run(now=NOW)
    assert first.carried == 0 and first.judged > 0
    step("nothing changed, a minute later", NOW + timedelta(minutes=1))

    # A credential's facts, and an identity's (which its credentials' rules read).
    some = list(Credential.objects.filter(disappeared_at__isnull=True).order_by("id")[:12])
    for credential in some[:6]:
        credential.last_used_at = NOW - timedelta(days=200)
        credential.tags = {**(credential.tags or {}), "owner": '=HYPERLINK("http://x")'}
        credential.save(update_fields=["last_used_at", "tags"])
    Credential.objects.filter(pk__in=[c.pk for c in some[6:]]).update(enabled=False)
    identity = Identity.objects.filter(disappeared_at__isnull=True).order_by("id").first()
    identity.privileged = not identity.privileged
    identity.tags = {"owner": "\u202eevil"}
    identity.save(update_fields=["privileged", "tags"])
    facts = step("credential and identity facts changed", NOW + timedelta(minutes=2))
    assert facts.judged >= 12

    # An access review signed off with a decision on a credential (credential-not-reviewed reads it).
    from apps.reviews.models import Campaign, ReviewItem

    campaign = campaign_factory(state=Campaign.State.SIGNED_OFF)
    reviewed = Credential.objects.filter(disappeared_at__isnull=True, identity__isnull=True).order_by("id").first()
    ReviewItem.objects.create(
        campaign=campaign,
        source_id=reviewed.source_id,
        credential=reviewed,
        subject=reviewed.name,
        facts={},
        reviewer=actor,
        assigned_by_rule="fallback",
        decision="keep",
        decided_at=NOW,
        decided_by=actor,
    )
    step("access review signed off", NOW + timedelta(minutes=3))

    # Source-level facts: the IAM snapshot's password policy (sources are judged every time).
    snapshot = Snapshot.objects.filter(scope="aws_iam").order_by("-taken_at").first()
    if snapshot is not None:
        snapshot.facts = {**(snapshot.facts or {}), "password_policy": {"MinimumPasswordLength": 6}}
        snapshot.save(update_fields=["facts"])
    step("source-level facts changed", NOW + timedelta(minutes=4))

    # An approved exception: the exception state is in the key, so everything is judged again.
    failing = Finding.objects.filter(evaluation=Evaluation.objects.latest("started_at"), status="fail", credential__isnull=False).first()
    exception_factory(
        state="approved",
        rule_ids=[failing.rule_id],
        scope={"credential_ids": [failing.credential_id]},
        expires_on=(NOW + timedelta(days=30)).date(),
    )
    step("exception approved", NOW + timedelta(minutes=5), expect_cold=True)
    step("after the exception, nothing changed", NOW + timedelta(minutes=6))

    # The policy and the catalog.
    data = dict(policy_current().data)
    data["unused_days"] = 30
    policy_update(actor=actor, data=data, comment="stricter")
    step("policy changed", NOW + timedelta(minutes=7), expect_cold=True)
    CatalogVersion.objects.create(catalog_id="iso27017-sai", version="2099.1.1", title="next", sha256="0" * 64)
    step("catalog changed", NOW + timedelta(minutes=8), expect_cold=True)

    # Time: a day (counts of days in reasons move), then past the limits (45, 90, 92 days...).
    for days in (1, 2, 31, 46, 93, 400):
        evaluation = compare(NOW + timedelta(days=days))
        out.append((f"{days} days later", evaluation.carried, evaluation.judged))
    return out
