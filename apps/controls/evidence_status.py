"""What the manual evidence of a sub-requirement that no rule tests shows, in one definition
used by the evaluation (UI, CLI, API) and the evidence pack (PDF, XLSX, JSON, OSCAL):

- ``evidenced``: a control that serves the requirement holds evidence whose effective date
  falls in the period (an engagement's audit period, or, in an evaluation, the control's own
  test cycle) and is not older than the control's test frequency;
- ``evidence_missing``: no control serves it, or its controls hold no evidence dated in the period;
- ``evidence_stale``: there is evidence in the period, but all of it is older than the test
  frequency of the control it belongs to.

Pure: dates in, a status out. The tokens are what the API, pack.json and the spreadsheet carry;
``EVIDENCE_WORDS`` what people read (the PDF, the pages, the command line).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

EVIDENCED, EVIDENCE_MISSING, EVIDENCE_STALE = "evidenced", "evidence_missing", "evidence_stale"
EVIDENCE_STATUSES = (EVIDENCED, EVIDENCE_MISSING, EVIDENCE_STALE)
EVIDENCE_WORDS = {EVIDENCED: "evidenced", EVIDENCE_MISSING: "evidence missing", EVIDENCE_STALE: "evidence stale"}

# How old evidence may be for each test frequency. A "continuous" control is meant to be tested by
# rules at every collection; when it rests on manual evidence, the strictest manual cycle applies.
FREQUENCY_DAYS = {"continuous": 31, "monthly": 31, "quarterly": 92, "semi_annual": 183, "annual": 366}


def manual_evidence_status(evidence: Iterable[tuple[dt.date, str]], *, on: dt.date, period_start: dt.date | None = None) -> str:
    """The status of a requirement from its controls' evidence, as (effective date, the control's
    test frequency) pairs, on day ``on``. Evidence dated after ``on`` or before ``period_start``
    does not speak for the period."""
    in_period = [(day, freq) for day, freq in evidence if day <= on and (period_start is None or day >= period_start)]
    if not in_period:
        return EVIDENCE_MISSING
    if any((on - day).days <= FREQUENCY_DAYS.get(freq, FREQUENCY_DAYS["annual"]) for day, freq in in_period):
        return EVIDENCED
    return EVIDENCE_STALE
