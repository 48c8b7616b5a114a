"""Incremental evaluation gives exactly what a cold evaluation gives: after each kind of change
(facts, identity facts, access reviews, exceptions, policy, catalog, source-level facts, time), an
incremental evaluation and a cold one at the same instant store the same findings, rule results,
requirement statuses and counts. Shared by the PostgreSQL test and the SQLite one (which runs
:func:`run_all` in a subprocess against a freshly migrated SQLite file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.catalog.models import CatalogVersion
from apps.evaluation.judging import ChunkJudge
from apps.evaluation.models import Evaluation, Finding, RequirementStatus, RuleResult
from apps.evaluation.services import evaluation_run, policy_current, policy_update
from apps.inventory.models import Credential, CredentialEvent, Identity, Snapshot, Source

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


# How many subjects the latest incremental evaluation carried without reading them, and the
# credentials it read (a write to a credential's facts must make the next evaluation read it,
# whether or not its verdicts change: that is what catches a writer the triggers miss).
SKIPPED: list[int] = []
READ: set[int] = set()


def _recording_chunk(original):
    def chunk(self, facts):
        READ.update(c.id for c in facts.credentials)
        return original(self, facts)

    return chunk


def _recording_skip(original):
    def skip_unchanged(self, source_ids):
        table = original(self, source_ids)
        SKIPPED.append(self.skipped)
        return table

    return skip_unchanged


def compare(now: datetime) -> Evaluation:
    """An incremental evaluation at ``now`` and a cold one at the same instant: the same verdicts."""
    original, original_chunk = ChunkJudge.skip_unchanged, ChunkJudge.chunk
    ChunkJudge.skip_unchanged = _recording_skip(original)  # type: ignore[method-assign]
    ChunkJudge.chunk = _recording_chunk(original_chunk)  # type: ignore[method-assign]
    READ.clear()
    try:
        incremental = evaluation_run(now=now)
    finally:
        ChunkJudge.skip_unchanged, ChunkJudge.chunk = original, original_chunk  # type: ignore[method-assign]
    cold = evaluation_run(now=now, incremental=False)
    assert cold.carried == 0 and cold.judged == incremental.carried + incremental.judged
    a, b = stored(incremental), stored(cold)
    for part in a:
        assert a[part] == b[part], f"{part} differ after an incremental evaluation at {now}"
    return incremental


def run_all(actor, seed_inventory, exception_factory, campaign_factory) -> list[tuple[str, int, int]]:
    """Every scenario in turn; returns (scenario, carried, judged) of each incremental evaluation."""
    out = []

    def step(name: str, now: datetime, *, expect_cold: bool = False, touched=()) -> Evaluation:
        evaluation = compare(now)
        unread = {c.pk for c in touched} - READ
        assert not unread, f"{name}: credentials whose facts changed were not read: {sorted(unread)}"
        out.append((name, evaluation.carried, evaluation.judged))
        if expect_cold:
            assert evaluation.carried == 0, name
        else:
            assert evaluation.carried > 0, name
        return evaluation

    seed_inventory(credentials=240, seed=11, now=NOW - timedelta(days=1), actor=actor)
    first = evaluation_run(now=NOW)
    assert first.carried == 0 and first.judged > 0
    unchanged = step("nothing changed, a minute later", NOW + timedelta(minutes=1))
    # Carried without being read: every present credential and identity but those whose verdicts' time ran out.
    assert SKIPPED[-1] * 2 > unchanged.carried, (SKIPPED[-1], unchanged.carried)

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
    facts = step(
        "credential and identity facts changed",
        NOW + timedelta(minutes=2),
        touched=[*some, *identity.credentials.filter(disappeared_at__isnull=True)],
    )
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
    step("access review signed off", NOW + timedelta(minutes=3), touched=[reviewed])

    # A decision in a campaign that is signed off later (only the campaign row changes then), and a
    # revoke decision whose remediation falls due tomorrow (overdue with time alone: "2 days later").
    pending = campaign_factory(state=Campaign.State.ACTIVE)
    decided = Credential.objects.filter(disappeared_at__isnull=True, identity__isnull=False).order_by("-id").first()
    ReviewItem.objects.create(
        campaign=pending, source_id=decided.source_id, credential=decided, subject=decided.name, facts={}, reviewer=actor,
        assigned_by_rule="fallback", decision="keep", decided_at=NOW, decided_by=actor,
    )  # fmt: skip
    step("a decision in a campaign not yet signed off", NOW + timedelta(minutes=3, seconds=20), touched=[decided])
    Campaign.objects.filter(pk=pending.pk).update(state=Campaign.State.SIGNED_OFF)
    step("that campaign signed off", NOW + timedelta(minutes=3, seconds=30), touched=[decided])
    from apps.reviews.models import Remediation

    revoked = Credential.objects.filter(disappeared_at__isnull=True, identity__isnull=False).order_by("-id")[1]
    revoke = ReviewItem.objects.create(
        campaign=campaign, source_id=revoked.source_id, credential=revoked, subject=revoked.name, facts={}, reviewer=actor,
        assigned_by_rule="fallback", decision="revoke", decided_at=NOW, decided_by=actor,
    )  # fmt: skip
    Remediation.objects.create(
        item=revoke, credential=revoked, action="revoke", owner=actor, due_date=(NOW + timedelta(days=1)).date(), decided_at=NOW
    )
    step("a remediation due tomorrow", NOW + timedelta(minutes=3, seconds=40), touched=[revoked])

    # The inventory's shape: an identity gone (its credentials have no present identity now), a
    # credential moved to another identity, a deactivation seen, a source disabled and enabled again.
    gone = Identity.objects.filter(disappeared_at__isnull=True, credentials__isnull=False).order_by("id").last()
    Identity.objects.filter(pk=gone.pk).update(disappeared_at=NOW)
    step("an identity disappeared", NOW + timedelta(minutes=3, seconds=45), touched=gone.credentials.filter(disappeared_at__isnull=True))
    mover = Credential.objects.filter(disappeared_at__isnull=True, identity__isnull=False).order_by("id")[3]
    target = (
        Identity.objects.filter(disappeared_at__isnull=True, source_id=mover.source_id).exclude(pk=mover.identity_id).order_by("id").first()
    )
    Credential.objects.filter(pk=mover.pk).update(identity=target)
    step("a credential moved to another identity", NOW + timedelta(minutes=3, seconds=50), touched=[mover])
    disabled = Credential.objects.filter(disappeared_at__isnull=True, enabled=False, last_changed_at__isnull=True).order_by("id").first()
    if disabled is not None:
        CredentialEvent.objects.create(
            credential=disabled, kind="deactivated", observed_at=NOW - timedelta(days=40),
            snapshot=Snapshot.objects.filter(source_id=disabled.source_id).first(),
        )  # fmt: skip
        step("a deactivation seen", NOW + timedelta(minutes=3, seconds=55), touched=[disabled])
    vault = Source.objects.filter(kind=Source.Kind.AZURE_KEY_VAULT).first() or Source.objects.order_by("id").last()
    Source.objects.filter(pk=vault.pk).update(enabled=False)
    step("a source disabled", NOW + timedelta(minutes=3, seconds=56))
    Source.objects.filter(pk=vault.pk).update(enabled=True)
    step("the source enabled again", NOW + timedelta(minutes=3, seconds=57))

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
