"""ADR 0016: each sub-requirement says which part its rules prove and which part rests on manual
evidence; the loader refuses a catalog that does not, and the database keeps both texts."""

import pytest
import yaml

from apps.catalog.loader import DEFAULT_CATALOG, CatalogError, coverage_of, parse_catalog, read_catalog


def _doc():
    return yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))


def _parse(doc):
    return parse_catalog(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8"))


def _req(doc, ref):
    return next(r for r in doc["requirements"] if r["ref"] == ref)


def test_every_requirement_with_rules_says_what_they_prove_and_what_is_manual():
    for r in read_catalog().requirements:
        if r["rules"]:
            assert r["rules_cover"].strip() and "manual_evidence_for" in r, r["ref"]
        else:
            assert not r.get("rules_cover"), r["ref"]


def test_least_privilege_and_logging_are_proven_in_part():
    data = {r["ref"]: r for r in read_catalog().requirements}
    assert data["9.2.4.07"]["automatable"] is True
    assert set(data["9.2.4.07"]["rules"]) == {"sm-resource-policy-broad-read", "iam-broad-secret-read", "kv-vault-secret-readers"}
    assert "cloudtrail-multi-region-trail" in data["9.2.4.18"]["rules"] and "source-coverage" in data["9.2.4.18"]["rules"]
    assert coverage_of(data["9.2.4.07"]["rules"], data["9.2.4.07"]["manual_evidence_for"]) == "partial"
    assert read_catalog().version == "2026.12.2"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _req(d, "9.2.4.07").pop("rules_cover"), "rules_cover must say"),
        (lambda d: _req(d, "9.2.4.07").update(rules_cover="   "), "rules_cover must say"),
        (lambda d: _req(d, "9.2.4.07").pop("manual_evidence_for"), "manual_evidence_for must say"),
        (lambda d: _req(d, "9.2.4.01").update(rules_cover="everything"), "no rule is listed"),
        (lambda d: _req(d, "9.2.4.07").update(rules_cover="x" * 1001), "rules_cover"),
        (lambda d: _req(d, "9.2.4.07").update(manual_evidence_for=7), "manual_evidence_for"),
    ],
)
def test_coverage_texts_are_validated(mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(CatalogError, match=message):
        _parse(doc)


def test_empty_manual_part_means_the_rules_prove_all_of_it():
    doc = _doc()
    _req(doc, "9.3.1.08")["manual_evidence_for"] = ""
    data = _parse(doc)
    req = next(r for r in data.requirements if r["ref"] == "9.3.1.08")
    assert coverage_of(req["rules"], req["manual_evidence_for"]) == "rules"
    assert coverage_of([], "") == "manual"


@pytest.mark.django_db
def test_loaded_requirements_keep_both_texts(catalog):
    from apps.catalog.models import Requirement

    least = Requirement.objects.get(ref="9.2.4.07")
    assert least.coverage == "partial" and least.rules_cover.startswith("No Secrets Manager resource policy")
    assert "Key Vault" in least.rules_cover and "pipelines" in least.manual_part
    manual = Requirement.objects.get(ref="9.2.4.01")
    assert manual.coverage == "manual" and manual.rules_cover == "" and manual.manual_part.startswith("All of it")
