import pytest
import yaml
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.catalog.loader import DEFAULT_CATALOG, CatalogError, parse_catalog, read_catalog
from apps.catalog.models import CatalogVersion, Clause, Requirement
from apps.catalog.services import catalog_load


def _doc():
    return yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))


def _bytes(doc) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def test_shipped_catalog_is_valid_and_covers_both_clauses():
    data = read_catalog()
    clauses = {r["clause"] for r in data.requirements}
    assert clauses == {"9.2.4", "9.3.1"}
    assert 15 <= len(data.requirements) <= 30
    topics = {r["topic"] for r in data.requirements}
    for needed in [
        "scope-definition",
        "formal-allocation",
        "central-storage",
        "no-plaintext-transport",
        "least-privilege-access",
        "scheduled-rotation",
        "event-driven-rotation",
        "revocation-offboarding",
        "non-human-ownership",
        "mfa-enforced",
        "sso-local-accounts",
        "password-policy",
        "break-glass",
        "third-party-credentials",
        "time-bound-exceptions",
        "monitoring-logging",
        "periodic-access-review",
    ]:
        assert needed in topics, needed


@pytest.mark.django_db
def test_loading_twice_creates_no_duplicates():
    first = catalog_load(data=read_catalog())
    count = Requirement.objects.count()
    events = AuditEvent.objects.count()
    second = catalog_load(data=read_catalog())
    assert not first.unchanged and first.created == count
    assert second.unchanged
    assert Requirement.objects.count() == count and Clause.objects.count() == 2
    assert CatalogVersion.objects.count() == 1
    assert AuditEvent.objects.count() == events  # nothing changed, nothing recorded


@pytest.mark.django_db
def test_a_new_version_updates_and_retires_without_deleting():
    catalog_load(data=read_catalog())
    doc = _doc()
    doc["version"] = "9999.1"
    removed = doc["requirements"].pop()
    doc["requirements"][0]["title"] = "Reworded title"
    summary = catalog_load(data=parse_catalog(_bytes(doc)))
    assert summary.updated >= 1 and summary.retired == 1 and summary.created == 0
    retired = Requirement.objects.get(ref=removed["ref"])
    assert retired.is_retired and retired.retired_in.version == "9999.1"
    assert Requirement.objects.get(ref=doc["requirements"][0]["ref"]).title == "Reworded title"
    assert AuditEvent.objects.filter(event_type="catalog.loaded").count() == 2


@pytest.mark.django_db
def test_same_version_with_different_content_is_refused():
    catalog_load(data=read_catalog())
    doc = _doc()
    doc["requirements"][0]["title"] = "Sneaky edit"
    with pytest.raises(CatalogError, match="bump the version"):
        catalog_load(data=parse_catalog(_bytes(doc)))
    assert Requirement.objects.get(ref=doc["requirements"][0]["ref"]).title != "Sneaky edit"


def _broken(mutator):
    doc = _doc()
    mutator(doc)
    return _bytes(doc)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"catalog: [unclosed", "not valid YAML"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"- just\n- a list\n", "must be a mapping"),
        (_broken(lambda d: d["requirements"][2].pop("statement")), "requirement #3 (ref 9.2.4.03)"),
        (_broken(lambda d: d["requirements"][1].__setitem__("rules", ["Not A Rule"])), "field rules.0"),
        (_broken(lambda d: d["requirements"][1].__setitem__("ref", d["requirements"][0]["ref"])), "duplicate requirement ref"),
        (_broken(lambda d: d["requirements"][0].__setitem__("clause", "9.9.9")), "is not declared"),
        (_broken(lambda d: d["requirements"][0].__setitem__("automatable", not d["requirements"][0]["automatable"])), "automatable"),
        (_broken(lambda d: d.__setitem__("surprise", 1)), "Additional properties"),
        (_broken(lambda d: d["requirements"][0].__setitem__("title", "x" * 500)), "too long"),
    ],
)
def test_broken_files_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(CatalogError) as excinfo:
        parse_catalog(raw)
    assert message in str(excinfo.value)


@pytest.mark.django_db
def test_command_refuses_a_broken_file_and_changes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(_broken(lambda d: d["requirements"][0].pop("evidence")))
    with pytest.raises(CommandError, match="evidence"):
        call_command("load_catalog", str(bad))
    assert Requirement.objects.count() == 0 and CatalogVersion.objects.count() == 0
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_catalog", str(tmp_path / "missing.yaml"))
