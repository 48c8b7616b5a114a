"""keytrail runs without translation machinery (USE_I18N off) and must read exactly as with
Django's en-GB catalogues, with en-GB formats."""

import datetime as dt
import gettext
from pathlib import Path

import django
from django.template import Context, Template
from django.utils import formats


def test_formats_are_still_en_gb():
    assert formats.get_format("DATE_FORMAT") == "j M Y"
    assert formats.get_format("DATE_INPUT_FORMATS")[0] == "%d/%m/%Y"
    moment = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)
    out = Template('{{ d|date }}|{{ d|date:"Y-m-d H:i" }}|{{ n }}|{{ s|truncatechars:5 }}|{{ f|floatformat:2 }}').render(
        Context({"d": moment, "n": 12345, "s": "abcdefgh", "f": 1234.5})
    )
    assert out == "4 Mar 2026|2026-03-04 05:06|12345|abcd…|1234.50"


def test_django_en_gb_catalogues_only_repeat_the_english_source():
    # Every en-GB message differs from its msgid only by the context prefix that pgettext strips.
    root = Path(django.__file__).parent
    catalogues = sorted(root.glob("**/locale/en_GB/LC_MESSAGES/*.mo"))
    # Nothing found would prove nothing: Django ships en-GB catalogues for its core and contrib apps.
    assert len(catalogues) >= 2 and root / "conf/locale/en_GB/LC_MESSAGES/django.mo" in catalogues, catalogues
    checked = 0
    for mo in catalogues:
        with mo.open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog
        for msgid, msgstr in catalog.items():
            if isinstance(msgid, str) and msgid:
                assert msgid.split("\x04")[-1] == msgstr, (mo, msgid, msgstr)
                checked += 1
    assert checked > 100, f"only {checked} en-GB messages compared"
