"""Every write the evaluation's credential and identity facts can see changes the fact revision
(apps/inventory/fact_revision.py), and every table the facts read carries the triggers. Shared by
the PostgreSQL test and the SQLite one (run in a subprocess against a freshly migrated file)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.evaluation.facts import attach_reviews, iter_fact_chunks
from apps.evaluation.policy import default_policy
from apps.inventory.fact_revision import FACT_TABLES
from apps.inventory.models import Credential, CredentialEvent, Identity, Snapshot, Source
from apps.reviews.models import Campaign, Remediation, ReviewItem

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def revisions() -> dict[tuple[str, int], int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, fact_revision FROM inventory_credential")
        found = {("credential", i): r for i, r in cursor.fetchall()}
        cursor.execute("SELECT id, fact_revision FROM inventory_identity")
        found.update({("identity", i): r for i, r in cursor.fetchall()})
    return found


def changed_by(write) -> set[tuple[str, int]]:
    before = revisions()
    write()
    after = revisions()
    return {key for key, value in after.items() if before.get(key) != value}


def triggers_on(table: str) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [f'"{table}"'])
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        return [row[0] for row in cursor.fetchall()]


def check_every_fact_table_has_triggers_and_no_other_table_is_read(source_ids: list[int]) -> None:
    """The tables the facts' queries name are all in FACT_TABLES, and each of those has triggers:
    a new table read by the facts (a join added to the reviews' facts, say) fails here until it
    bumps the revision."""
    with CaptureQueriesContext(connection) as queries:
        chunks = list(iter_fact_chunks(policy=default_policy(), now=NOW, source_ids=source_ids, size=50))
        credentials = [c for chunk in chunks for c in chunk.credentials]
        attach_reviews(credentials, now=NOW)
    assert credentials
    read = set()
    for query in queries.captured_queries:
        read.update(t for t in re.findall(r'(?:FROM|JOIN)\s+"?(\w+)"?', query["sql"], flags=re.IGNORECASE) if "_" in t)
    assert read, "no query captured"
    assert read <= set(FACT_TABLES), f"the facts read tables no trigger covers: {sorted(read - set(FACT_TABLES))}"
    for table in FACT_TABLES:
        assert triggers_on(table), f"{table} has no fact-revision trigger"


def check_every_writer_changes_the_revision(actor) -> None:
    credential = Credential.objects.filter(identity__isnull=False, disappeared_at__isnull=True).order_by("id").first()
    assert credential is not None
    identity = credential.identity
    cred, ident = ("credential", credential.id), ("identity", identity.id)
    other = Identity.objects.exclude(pk=identity.pk).filter(source_id=credential.source_id).order_by("id").first()
    assert other is not None

    # The inventory: a credential's columns (ORM update and save), an identity's, a new credential,
    # a credential moving to another identity, one disappearing, its deactivation events.
    assert {cred, ident} <= changed_by(lambda: Credential.objects.filter(pk=credential.pk).update(tags={"team": "x"}))
    credential.refresh_from_db()
    credential.owner = "someone@example.com"
    assert {cred, ident} <= changed_by(lambda: credential.save())
    if connection.vendor == "postgresql":  # an update that changes nothing (SQLite bumps anyway: harmless)
        assert changed_by(lambda: Credential.objects.filter(pk=credential.pk).update(owner="someone@example.com")) == set()
    assert ident in changed_by(lambda: Identity.objects.filter(pk=identity.pk).update(mfa_active=not identity.mfa_active))
    assert {cred, ident, ("identity", other.pk)} <= changed_by(lambda: Credential.objects.filter(pk=credential.pk).update(identity=other))
    ident = ("identity", other.pk)
    assert {cred, ident} <= changed_by(lambda: Credential.objects.filter(pk=credential.pk).update(disappeared_at=NOW))
    Credential.objects.filter(pk=credential.pk).update(disappeared_at=None)
    snapshot = Snapshot.objects.filter(source_id=credential.source_id).first()
    assert snapshot is not None

    def deactivated():
        CredentialEvent.objects.create(credential=credential, kind="deactivated", observed_at=NOW, snapshot=snapshot)

    assert {cred, ident} <= changed_by(deactivated)
    assert {cred, ident} <= changed_by(
        lambda: CredentialEvent.objects.filter(credential=credential).update(observed_at=NOW - timedelta(days=1))
    )

    def new_credential():
        Credential.objects.create(
            source_id=credential.source_id, scope=credential.scope, external_id="new-one", credential_type=credential.credential_type,
            name="new", identity=other, fingerprint="x", first_seen_at=NOW,
        )  # fmt: skip

    assert ident in changed_by(new_credential)

    # The access reviews: a decision, its campaign signed off or renamed, a remediation and its verification.
    campaign = Campaign.objects.create(
        name="facts", created_by=actor, fallback_reviewer=actor, due_date=NOW.date(), state=Campaign.State.ACTIVE
    )
    item = ReviewItem.objects.create(
        campaign=campaign, source_id=credential.source_id, credential=credential, subject="s", facts={}, reviewer=actor,
        assigned_by_rule="fallback",
    )  # fmt: skip
    assert {cred, ident} <= changed_by(lambda: ReviewItem.objects.filter(pk=item.pk).update(decision="revoke", decided_at=NOW))
    assert {cred, ident} <= changed_by(lambda: Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.SIGNED_OFF))
    assert {cred, ident} <= changed_by(lambda: Campaign.objects.filter(pk=campaign.pk).update(name="renamed"))

    def remediation():
        Remediation.objects.create(item=item, credential=credential, action="revoke", owner=actor, due_date=NOW.date(), decided_at=NOW)

    assert {cred, ident} <= changed_by(remediation)
    assert {cred, ident} <= changed_by(lambda: Remediation.objects.filter(item=item).update(state=Remediation.State.VERIFIED))

    # A source disabled: its credentials and identities are no longer present.
    source = Source.objects.get(pk=credential.source_id)
    assert {cred, ident} <= changed_by(lambda: Source.objects.filter(pk=source.pk).update(enabled=False))
    assert {cred, ident} <= changed_by(lambda: Source.objects.filter(pk=source.pk).update(enabled=True))
    assert cred not in changed_by(lambda: Source.objects.filter(pk=source.pk).update(schedule_minutes=61))

    # Values are never given twice: no credential's revision equals an identity's.
    values = revisions()
    assert not {v for (k, _), v in values.items() if k == "credential"} & {v for (k, _), v in values.items() if k == "identity"}


def run_all(actor, seed_inventory) -> None:
    seed_inventory(credentials=60, seed=5, now=NOW - timedelta(days=1), actor=actor)
    source_ids = list(Source.objects.filter(enabled=True).values_list("id", flat=True))
    check_every_fact_table_has_triggers_and_no_other_table_is_read(source_ids)
    check_every_writer_changes_the_revision(actor)
