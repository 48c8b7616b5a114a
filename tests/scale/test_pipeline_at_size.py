"""The scale pipeline at a few hundred users: a simulated organisation in its own processes
(moto's server with two accounts, three HTTPS Key Vaults), collected twice through
``collection_start`` (eager) into PostgreSQL, evaluated, and read once more with the bare
SDKs. Asserts counts and "no per-user calls on repeat", never times (the large run is the
benchmark, ``manage.py bench_scale``)."""

from collections import Counter

import pytest

from apps.devtools.management.commands.bench_scale import PER_USER_IAM_CALLS, PER_USER_LISTINGS, targets
from apps.devtools.simulators.bare_sdk import read_organisation
from apps.devtools.simulators.bench import collect
from apps.devtools.simulators.meter import Stage
from apps.devtools.simulators.scale import OrgSpec, SimulatedOrganisation, _account_of_temporary_key, split
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run
from apps.inventory.models import CollectionUnit, Credential, Identity
from apps.inventory.services.sources import source_create

# One worker starts the module-scoped organisation once (pytest-xdist --dist loadgroup).
pytestmark = pytest.mark.xdist_group("pipeline_at_size")

SPEC = OrgSpec(accounts=2, users=300, keys_per_user=2, secrets=120, vaults=3, vault_secrets=150, seed=11)


@pytest.fixture(scope="module")
def organisation():
    with SimulatedOrganisation(SPEC) as org:
        yield org


def test_split_spreads_totals_evenly():
    assert split(10, 3) == [4, 3, 3] and split(0, 2) == [0, 0] and split(5, 0) == []


def test_a_moto_temporary_key_names_its_account_in_every_forked_process():
    from moto.iam.utils import generate_access_key_id_from_account_id

    for account in [*SPEC.account_ids(), "123456789012", "000000000001"]:
        assert _account_of_temporary_key(generate_access_key_id_from_account_id(account, prefix="ASIA")) == account
    documented_example = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret (AWS's documented example key id)
    assert _account_of_temporary_key(documented_example) is None and _account_of_temporary_key("ASIA!") is None


@pytest.mark.django_db(transaction=True)  # real commits: on_commit enqueues, and the meter reads PostgreSQL's counters
def test_collect_repeat_evaluate_at_size(organisation, grc_lead, catalog, settings):
    org = organisation
    org.configure()
    settings.KEYTRAIL_EVALUATE_AFTER_COLLECTION = False
    settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = 0.1
    assert [a["users"] for a in org.accounts] == [150, 150] and [a["sandbox"] for a in org.accounts] == [False, True]
    sources = [source_create(actor=grc_lead, **fields) for fields in org.source_fields()]

    with Stage("first collection") as first:
        run, calls = collect(grc_lead, sources)
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    # per account: IAM + 2 regions of Secrets Manager and of SSM; per vault: secrets, keys, certificates
    assert run.units.count() == 2 * (1 + 2 + 2) + 3 * 3
    live = Credential.objects.filter(disappeared_at__isnull=True)
    by_type = Counter(live.values_list("credential_type", flat=True))
    assert by_type["access_key"] == 600  # 300 users x 2 keys
    assert by_type["root_access_key"] == 1  # the sandbox account's root key
    assert by_type["sm_secret"] == 120 and by_type["kv_secret"] == 150
    assert 0 < by_type["console_password"] < 300
    assert Identity.objects.filter(kind="root").count() == 2 and Identity.objects.count() == 302
    assert calls["ListAccessKeys"] == 300  # one per user with keys
    # No account-wide listing exists for these: one call each per user on a first collection.
    assert calls["ListSSHPublicKeys"] == calls["ListServiceSpecificCredentials"] == 300
    assert not calls.get("ListSigningCertificates")  # the report shows nobody holds one
    # GetLoginProfile: once per console password (reset flag, profile creation; identity controls), reused on repeat.
    assert calls["GetLoginProfile"] == by_type["console_password"]
    assert not any(calls.get(op) for op in PER_USER_IAM_CALLS if op not in ("ListAccessKeys", "GetLoginProfile"))
    # The meter sees what was written (COPY included) and the queries issued.
    assert first.rows_written["inventory_credential"] == sum(by_type.values())
    assert first.queries > 0 and first.peak_rss_mb and first.wall_seconds > 0

    with Stage("repeat collection") as repeat:
        again, repeat_calls = collect(grc_lead, sources)
    repeat.api_calls = repeat_calls
    assert again.status == "succeeded"
    assert not any(repeat_calls.get(op) for op in PER_USER_IAM_CALLS) and "list_secret_versions" not in repeat_calls
    assert not any(repeat_calls.get(op) for op in PER_USER_LISTINGS)  # reused within the refresh window
    for unit in CollectionUnit.objects.filter(run=again):
        assert unit.counts["created"] == unit.counts["changed"] == unit.counts["disappeared"] == 0, unit.scope
    assert "inventory_credential" not in repeat.rows_written and "inventory_credentialversion" not in repeat.rows_written

    with Stage("evaluation") as evaluated:
        evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL)
    assert evaluation.state == Evaluation.State.SUCCEEDED and evaluation.counts["failed"] > 0
    failing = set(evaluation.findings.filter(status="fail").values_list("rule_id", flat=True))
    # The demo's mix of problems is there at size.
    assert {"console-password-no-mfa", "root-no-mfa", "iam-key-rotation-age", "kv-secret-no-expiry"} <= failing

    report = {t["target"]: t for t in targets({s.name: s for s in (first, repeat, evaluated)}, sum(by_type.values()))}
    assert report["per-user IAM calls on repeat"]["measured"] == 0 and report["per-user IAM calls on repeat"]["met"]
    assert report["evidence pack peak memory (the building process)"]["measured"] is None  # not run here


def test_bare_sdk_reads_the_same_population(organisation):
    calls, items = read_organisation(organisation, concurrency=4)
    assert items["access_keys"] == 600 and items["secrets"] == 120 and items["vault_secrets"] == 150
    assert items["users"] == 300 and calls["ListAccessKeys"] == 300
    assert calls["list_properties_of_secret_versions"] == 150
    assert "GetSecretValue" not in calls
