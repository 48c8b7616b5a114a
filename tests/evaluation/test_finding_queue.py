"""Failing findings as a queue: an owner and a due date from the policy's severity SLA,
carried across evaluations while the finding keeps failing; filters, groups and exports."""

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from django.urls import reverse

from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.models import Finding
from apps.evaluation.policy import PolicyError, policy_from_dict
from apps.evaluation.services import evaluation_run, policy_current, policy_update
from tests.factories import CredentialFactory, EvaluationFactory, FindingFactory, IdentityFactory, SourceFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_sla_is_part_of_the_versioned_policy():
    assert policy_from_dict({}).finding_due_days("critical") == 7
    assert policy_from_dict({}).finding_due_days("high") == 30
    with pytest.raises(PolicyError, match="finding_sla_days"):
        policy_from_dict({"finding_sla_days": {"high": 30}})
    with pytest.raises(PolicyError, match="critical: 0 is outside"):
        policy_from_dict({"finding_sla_days": {"critical": 0, "high": 30, "medium": 90, "low": 180}})


def test_failing_findings_get_owner_and_due_date_kept_while_they_keep_failing(catalog, grc_lead):
    seed_inventory(credentials=200, seed=3, now=NOW, actor=grc_lead)
    first = evaluation_run(now=NOW + timedelta(hours=1))
    failing = Finding.objects.filter(evaluation=first, status="fail")
    assert failing.exists()
    for f in failing.select_related("credential__identity", "identity"):
        assert f.failing_since == first.as_of
        days = {"critical": 7, "high": 30, "medium": 90, "low": 180}[f.severity]
        assert f.due_on == first.as_of.date() + timedelta(days=days)
        if f.subject_type == "credential":
            identity_owner = f.credential.identity.owner if f.credential.identity else ""
            assert f.owner == (f.credential.owner or identity_owner)
        elif f.subject_type == "identity":
            assert f.owner == f.identity.owner
    assert failing.exclude(owner="").exists()
    assert not Finding.objects.filter(evaluation=first).exclude(status="fail").filter(due_on__isnull=False).exists()

    data = dict(policy_current().data)
    data["finding_sla_days"] = {"critical": 1, "high": 2, "medium": 3, "low": 4}
    policy_update(actor=grc_lead, data=data, comment="tighter SLA")
    second = evaluation_run(now=NOW + timedelta(days=5))
    before = {(f.rule_id, f.credential_id, f.identity_id, f.source_id): f.failing_since for f in failing}
    again = Finding.objects.filter(evaluation=second, status="fail")
    kept = [f for f in again if (f.rule_id, f.credential_id, f.identity_id, f.source_id) in before]
    assert kept
    for f in kept:  # still failing: the first date is kept; the due date follows the SLA in force
        assert f.failing_since == first.as_of
        assert f.due_on == first.as_of.date() + timedelta(days={"critical": 1, "high": 2, "medium": 3, "low": 4}[f.severity])
    new = [f for f in again if (f.rule_id, f.credential_id, f.identity_id, f.source_id) not in before]
    assert all(f.failing_since == second.as_of for f in new)


@pytest.fixture
def queue(grc_lead):
    today = datetime.now(UTC).date()
    source, other = SourceFactory(name="prod"), SourceFactory(name="dev")
    alice = IdentityFactory(source=source, name="alice", owner="alice@example.com")
    bob = IdentityFactory(source=other, name="bob")
    key = CredentialFactory(source=source, identity=alice, name='=HYPERLINK("http://evil")', owner="")
    key2 = CredentialFactory(source=other, identity=bob, name="AKIABOB", owner="carol@example.com")
    evaluation = EvaluationFactory(state="succeeded")
    late = FindingFactory(
        evaluation=evaluation,
        credential=key,
        identity=alice,
        owner="alice@example.com",
        due_on=today - timedelta(days=1),
        severity="critical",
    )
    due = FindingFactory(evaluation=evaluation, credential=key2, identity=bob, owner="carol@example.com", due_on=today + timedelta(days=20))
    mfa = FindingFactory(evaluation=evaluation, identity=bob, rule_id="console-password-no-mfa", owner="", due_on=today + timedelta(days=3))
    excepted = FindingFactory(
        evaluation=evaluation, credential=key2, identity=bob, rule_id="iam-key-unused", status="excepted", owner="carol@example.com"
    )
    return {"late": late, "due": due, "mfa": mfa, "excepted": excepted, "alice": alice, "bob": bob, "source": source}


def _ids(client, **params):
    return {f.pk for f in client.get(reverse("evaluation:finding_list"), params).context["page"]}


def test_the_queue_filters_by_owner_identity_and_overdue(client, grc_lead, queue):
    client.force_login(grc_lead)
    assert _ids(client, overdue="yes") == {queue["late"].pk}
    assert _ids(client, owner="carol@example.com") == {queue["due"].pk, queue["excepted"].pk}
    assert _ids(client, owner="-") == {queue["mfa"].pk}  # failing and owned by nobody
    assert _ids(client, identity=str(queue["bob"].pk)) == {queue["due"].pk, queue["mfa"].pk, queue["excepted"].pk}
    assert _ids(client, source=str(queue["source"].pk)) == {queue["late"].pk}
    body = client.get(reverse("evaluation:finding_list")).content.decode()
    assert "overdue</span>" in body and "no owner" in body


def test_the_queue_groups_with_links_to_each_group(client, grc_lead, queue):
    client.force_login(grc_lead)
    response = client.get(reverse("evaluation:finding_list"), {"group": "owner", "status": "fail"})
    groups = {g.label: (g.failing, g.overdue, link) for g, link in response.context["groups"]}
    assert groups["alice@example.com"][:2] == (1, 1) and groups["carol@example.com"][:2] == (1, 0)
    assert groups[""][0] == 1 and "owner=-" in groups[""][2]
    link = groups["carol@example.com"][2]
    assert "group=" not in link and "status=fail" in link
    assert _ids(client, **dict(p.split("=") for p in link[1:].replace("%40", "@").split("&"))) == {queue["due"].pk}
    by_rule = {g.label: g.findings for g, _ in client.get(reverse("evaluation:finding_list"), {"group": "rule"}).context["groups"]}
    assert by_rule == {"iam-key-rotation-age": 2, "console-password-no-mfa": 1, "iam-key-unused": 1}
    by_identity = {g.label: g.failing for g, _ in client.get(reverse("evaluation:finding_list"), {"group": "identity"}).context["groups"]}
    assert by_identity == {"alice": 1, "bob": 2}


def test_the_export_is_exactly_what_the_filters_show(client, grc_lead, queue):
    client.force_login(grc_lead)
    url = reverse("evaluation:finding_list")
    response = client.get(url, {"status": "fail", "export": "csv", "page": "3"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
    assert sorted(r["Subject"] for r in rows) == sorted(['\'=HYPERLINK("http://evil")', "AKIABOB", "bob"])
    late = next(r for r in rows if r["Subject"].startswith("'="))
    assert late["Overdue"] == "yes" and late["Owner"] == "alice@example.com" and late["Severity"] == "critical"

    response = client.get(url, {"overdue": "yes", "export": "xlsx"})
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(ws.iter_rows(values_only=True))
    assert len(values) == 2 and values[1][4] == '=HYPERLINK("http://evil")' and ws["E2"].data_type == "s"
    page = client.get(url, {"overdue": "yes"}).content.decode()
    assert "export=csv" in page and "overdue=yes" in page


def test_the_export_is_refused_to_whom_the_page_is_refused(client, reviewer, queue):
    client.force_login(reviewer)
    assert client.get(reverse("evaluation:finding_list"), {"export": "csv"}).status_code == 403
