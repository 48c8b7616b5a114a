"""Findings and carry rows written as COPY text lines formatted by the evaluation (PostgreSQL) are
stored exactly as the rows adapted value by value by psycopg (``bulk_insert``), the reference:
every column, for awkward text (COPY's special characters, non-ASCII, long owners) and NULLs."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.engine import FindingRow
from apps.evaluation.judging import ChunkJudge
from apps.evaluation.models import Evaluation, Finding, SubjectCarry
from apps.evaluation.policy import policy_from_dict
from apps.evaluation.services import evaluation_run
from tests.factories import EvaluationFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY text lines are written on PostgreSQL only"),
]
NOW = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)
COLUMNS = [f.attname for f in Finding._meta.concrete_fields if f.attname not in ("id", "evaluation_id")]

AWKWARD = [
    "plain",
    "tab\there, newline\nthere, return\r, backslash \\ and \\N, \\t literally",
    "bell-ish \b\v\f and a quote ' \" and unicode … é 漢字 🙂",
    "\\",
    "",
]


def _finding(i: int, text: str, status: str) -> FindingRow:
    return FindingRow(
        rule_id=f"rule-{i % 3}",
        status=status,
        severity=["critical", "high", "medium", "low"][i % 4],
        subject_type="credential" if i % 2 else "identity",
        source_id=1 + i % 2,
        credential_id=100 + i if i % 2 else None,
        identity_id=None if i % 3 == 0 else 200 + i,
        scope="aws_iam" if i % 2 else "nowhere",
        subject_label=f"label {text}",
        reason=f"{text}: reason {i}",
        data={"text": text, "n": i, "nested": {"list": [text, None, 1.5, True]}, "k\tey": "v\\al"},
        exception_id=7 if status == "excepted" else None,
        owner=(text * 300)[:600] if i % 5 == 0 else text,
    )


def _stored(evaluation) -> list[tuple]:
    return sorted(Finding.objects.filter(evaluation=evaluation).values_list(*COLUMNS), key=repr)


def test_copy_text_lines_store_the_same_findings_as_adapted_rows():
    findings = [_finding(i, text, status) for i, text in enumerate(AWKWARD * 3) for status in ("fail", "excepted", "not_assessed")]
    since = {
        ("rule-1", "credential", 2, 101, 201): datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
        ("rule-0", "credential", 2, 103, None): datetime(2026, 3, 4, 23, 30, tzinfo=timezone(timedelta(hours=2))),  # not UTC
        ("rule-2", "credential", 2, 105, 205): datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),  # the same instant again
    }
    policy = policy_from_dict({})
    stored = []
    for copy_text in (True, False):
        evaluation = EvaluationFactory(as_of=NOW)
        judge = ChunkJudge(evaluation, [], None, None, {(2, "aws_iam"): 55}, policy, None, None)
        judge.copy_text = copy_text
        judge._write_findings(findings, since)
        stored.append(_stored(evaluation))
    fast, reference = stored
    assert len(fast) == len(findings)
    assert fast == reference
    row = dict(
        zip(
            COLUMNS, next(r for r in fast if r[COLUMNS.index("failing_since")] == since[("rule-1", "credential", 2, 101, 201)]), strict=True
        )
    )
    assert row["due_on"] == since[("rule-1", "credential", 2, 101, 201)].date() + timedelta(days=policy.finding_due_days(row["severity"]))
    assert sum(r[COLUMNS.index("failing_since")] == since[("rule-1", "credential", 2, 101, 201)] for r in fast) == 2
    assert any(
        r[COLUMNS.index("due_on")] == datetime(2026, 3, 4).date() + timedelta(days=policy.finding_due_days(r[COLUMNS.index("severity")]))
        for r in fast
        if r[COLUMNS.index("failing_since")] == since[("rule-0", "credential", 2, 103, None)]
    )
    assert any(AWKWARD[1] in r[COLUMNS.index("reason")] for r in fast)  # the special characters arrive as they were
    assert all(len(r[COLUMNS.index("owner")]) <= 512 for r in fast)


def test_an_evaluation_stores_the_same_findings_and_carry_rows_either_way(catalog, grc_lead, monkeypatch):
    seed_inventory(credentials=300, seed=11, now=NOW, actor=grc_lead)
    fast = evaluation_run(now=NOW, incremental=False)
    monkeypatch.setattr(ChunkJudge, "copy_text", False)
    reference = evaluation_run(now=NOW, incremental=False)
    assert fast.state == reference.state == Evaluation.State.SUCCEEDED
    assert _stored(fast) == _stored(reference)
    assert Finding.objects.filter(evaluation=fast, status="fail").exists()
    # The carry rows of the older evaluation are deleted by the next one: write them again to compare.
    carry_columns = ["subject_type", "subject_id", "fingerprint", "valid_until", "populations"]
    expected = sorted(SubjectCarry.objects.filter(evaluation=reference).values_list(*carry_columns))
    assert expected and any(r[3] is not None for r in expected) and any(r[3] is None for r in expected)
    monkeypatch.setattr(ChunkJudge, "copy_text", True)
    again = evaluation_run(now=NOW, incremental=False)
    assert sorted(SubjectCarry.objects.filter(evaluation=again).values_list(*carry_columns)) == expected
    assert _stored(again) == _stored(reference)
