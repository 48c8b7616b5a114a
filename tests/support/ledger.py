"""The reliability tallies the hardening suites write their outcomes to, printed at the end of
the run (the figures in docs/reliability.md come from them).

Under pytest-xdist every worker keeps its own ledger; at the end of its session a worker hands
it to the controller (``workeroutput``), which merges them, so the printed tallies cover the
whole run whether it was parallel or not. The hooks are registered by tests/conftest.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

# (suite, case) -> outcome, filled by the tests.
LEDGER: dict[str, Counter] = {"faults": Counter(), "hostile": Counter()}
FAULT_OUTCOMES: list[tuple[str, str]] = []
CANARY: list[str] = []
_KEY = "keytrail_ledger"


def record_fault(case: str, outcome: str) -> None:
    LEDGER["faults"][outcome] += 1
    FAULT_OUTCOMES.append((case, outcome))


def record_hostile(entry_point: str, outcome: str, n: int = 1) -> None:
    LEDGER["hostile"][f"{entry_point}: {outcome}"] += n


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the tallies over (plain data: execnet)
        workeroutput[_KEY] = {"faults": [list(f) for f in FAULT_OUTCOMES], "hostile": dict(LEDGER["hostile"]), "canary": list(CANARY)}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent with -p no:xdist
def pytest_testnodedown(node, error):
    data = getattr(node, "workeroutput", {}).get(_KEY)
    if not data:
        return
    for case, outcome in data["faults"]:
        record_fault(case, outcome)
    LEDGER["hostile"].update(data["hostile"])
    CANARY.extend(data["canary"])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput") or not (FAULT_OUTCOMES or LEDGER["hostile"] or CANARY):
        return
    from tests.support import hostile
    from tests.support.permission_matrix import MATRIX, PERSONAS

    write = terminalreporter.write_line
    terminalreporter.section("keytrail reliability tallies")
    write(
        f"permission matrix: {len(MATRIX)} views x {len(PERSONAS)} personas = "
        f"{len(MATRIX) * len(PERSONAS)} cases (tests/test_permission_matrix.py)"
    )
    write(
        f"bad-input corpus: {hostile.count()} values ({len(hostile.TEXT)} text, {len(hostile.DATE_STRINGS)} dates, "
        f"{len(hostile.NUMBERS)} numbers, {len(hostile.IDS)} ids, 1 raw byte string)"
    )
    if FAULT_OUTCOMES:
        write(f"faults injected: {len(FAULT_OUTCOMES)}")
        for case, outcome in FAULT_OUTCOMES:
            write(f"  {case:<58} -> {outcome}")
    if LEDGER["hostile"]:
        write(f"hostile inputs run: {sum(LEDGER['hostile'].values())}")
        for key, n in sorted(LEDGER["hostile"].items()):
            write(f"  {key:<58} {n}")
    for line in CANARY:
        write(f"secret canary: {line}")
