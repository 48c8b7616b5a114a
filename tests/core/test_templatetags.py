"""keytrail's template filters for times and days give exactly what Django's ``date`` filter
gives with the formats they replace."""

import datetime as dt
import zoneinfo

import pytest
from django.template import Context, Template

MOMENTS = [
    dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC),
    dt.datetime(1, 1, 2, 0, 0, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 30, 23, 59, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 7, 1, 0, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),  # the day before, in UTC
    dt.datetime(1969, 12, 31, 23, 59, tzinfo=zoneinfo.ZoneInfo("America/Los_Angeles")),
    dt.datetime(2026, 3, 4, 5, 6),  # naive: taken as in TIME_ZONE
]
OTHERS = [None, "", "2026-03-04", 0, [], dt.time(5, 6)]


def _render(source: str, value) -> str:
    return Template("{% load tz keytrail %}" + source).render(Context({"v": value}))


@pytest.mark.parametrize("value", MOMENTS + OTHERS, ids=repr)
def test_utc_minute_is_the_utc_date_filter(value):
    assert _render("{{ v|utc_minute }}", value) == _render('{{ v|utc|date:"Y-m-d H:i" }}', value)


@pytest.mark.parametrize("value", MOMENTS + OTHERS + [dt.date(1, 1, 1), dt.date(2026, 2, 28), dt.date(9999, 12, 31)], ids=repr)
def test_iso_day_is_the_date_filter(value):
    assert _render("{{ v|iso_day }}", value) == _render('{{ v|date:"Y-m-d" }}', value)
