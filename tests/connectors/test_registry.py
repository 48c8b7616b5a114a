"""The connector registry: every connector describes itself completely, and what differs by
kind of source or credential (validation, unit planning, the kinds offered) comes from it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from apps.connectors import registry
from apps.connectors.base import SETTING_NAMES, Connector, SourceConfig, SourceSpec, Target
from apps.connectors.kinds import CredentialKind, IdentityKind, SourceKind
from apps.core.errors import ValidationFailed

ROLE = "arn:aws:iam::123456789012:role/keytrail-audit"
APPS = Path(__file__).resolve().parents[2] / "apps"


def _valid_config(spec: type[SourceSpec]) -> SourceConfig:
    """A valid configuration of each registered source kind (a new kind adds one here)."""
    examples = {
        SourceKind.AWS_ACCOUNT: SourceConfig(kind="aws_account", role_arn=ROLE, regions=("eu-west-1",)),
        SourceKind.AZURE_KEY_VAULT: SourceConfig(kind="azure_key_vault", vault_url="https://kv.vault.azure.net/"),
        SourceKind.AWS_ORGANIZATION: SourceConfig(
            kind="aws_organization", role_arn=ROLE, member_role_name="keytrail-reader", include_ids=("ou-ab12-cdefgh34",)
        ),
        SourceKind.AZURE_SUBSCRIPTION: SourceConfig(kind="azure_subscription", subscription_ids=("11111111-2222-3333-4444-555555555555",)),
        SourceKind.ENTRA_TENANT: SourceConfig(kind="entra_tenant", graph_tenant_id="72F988BF-86F1-41AF-91AB-2D7CD011DB47"),
    }
    return spec.validate(examples[spec.kind])


# --- self-description -------------------------------------------------------------------


@pytest.mark.parametrize("key", list(registry.CONNECTORS))
def test_every_registered_connector_describes_itself_completely(key):
    cls = registry.connector_class(key)
    assert issubclass(cls, Connector) and cls.kind == key
    assert issubclass(cls.source, SourceSpec) and isinstance(cls.source.kind, SourceKind)
    # A discovery (regions, an organisation's accounts) spawns units instead of yielding credentials.
    assert cls.discovers != bool(cls.credential_kinds)
    assert all(isinstance(k, CredentialKind) and k.label for k in cls.credential_kinds)
    assert all(isinstance(k, IdentityKind) for k in cls.identity_kinds)
    # The source spec: settings that exist on a source, each labelled, and at least one entered.
    fields = cls.source.fields
    assert fields and {f.name for f in fields} <= set(SETTING_NAMES)
    assert all(f.label and not f.label.count(":") for f in fields)
    assert any(not f.derived for f in fields)
    # Planning a valid source gives this connector's targets, each with its own scope.
    config = _valid_config(cls.source)
    # (the region discovery plans a unit only when no region is pinned)
    targets = cls.targets(config) or cls.targets(dataclasses.replace(config, regions=()))
    assert targets and all(isinstance(t, Target) and t.kind == key and t.source_key for t in targets)
    assert len({t.unit for t in targets}) == len(targets)
    assert cls.source.source_key(config) and cls.source.location(config)


def test_connectors_serving_one_kind_of_source_share_its_spec():
    by_kind: dict[str, set[type[SourceSpec]]] = {}
    for cls in registry.connector_classes():
        by_kind.setdefault(cls.source.kind, set()).add(cls.source)
    assert all(len(specs) == 1 for specs in by_kind.values())


def test_the_vocabulary_has_no_kind_that_nothing_serves_or_yields():
    assert {value for value, _ in registry.source_kind_choices()} == set(SourceKind.values)
    assert {value for value, _ in registry.credential_kind_choices()} == set(CredentialKind.values)
    assert {value for value, _ in registry.identity_kind_choices()} == set(IdentityKind.values)
    # One source kind's account-level facts come from at most one of its connectors.
    providers = [cls.source.kind for cls in registry.connector_classes() if cls.provides_source_facts]
    assert len(providers) == len(set(providers))


def test_the_models_take_their_choices_from_the_vocabulary():
    from apps.inventory.models import Credential, Identity, Source

    assert Source._meta.get_field("kind").choices == SourceKind.choices
    assert Identity._meta.get_field("kind").choices == IdentityKind.choices
    assert Credential._meta.get_field("credential_type").choices == CredentialKind.choices


def test_an_unknown_connector_is_a_key_error():
    with pytest.raises(KeyError):
        registry.connector_class("gcp_secret_manager")


# --- unit planning ----------------------------------------------------------------------


def test_an_aws_account_with_two_regions_is_one_iam_unit_and_one_unit_per_region_per_regional_service():
    config = registry.validate_source_config(
        SourceConfig(kind="aws_account", role_arn=ROLE, external_id="ext-1", regions=("eu-west-1", "us-east-1"))
    )
    units = registry.plan_units(config)
    assert [(t.kind, t.unit) for t in units] == [
        ("aws_iam", "aws_iam"),
        ("aws_secrets_manager", "aws_secrets_manager:eu-west-1"),
        ("aws_secrets_manager", "aws_secrets_manager:us-east-1"),
        ("aws_ssm", "aws_ssm:eu-west-1"),
        ("aws_ssm", "aws_ssm:us-east-1"),
    ]
    assert all(t.source_key == "123456789012" and t.role_arn == ROLE and t.external_id == "ext-1" for t in units)
    assert [t.region for t in units] == ["", "eu-west-1", "us-east-1", "eu-west-1", "us-east-1"]


def test_an_aws_account_without_regions_discovers_its_enabled_regions():
    # Not "IAM only" any more: a discovery unit finds every enabled region at each collection.
    config = registry.validate_source_config(SourceConfig(kind="aws_account", role_arn=ROLE))
    assert [t.unit for t in registry.plan_units(config)] == ["aws_iam", "aws_regions"]


def test_an_organisation_is_one_discovery_unit_with_its_settings():
    config = registry.validate_source_config(
        SourceConfig(
            kind="aws_organization",
            role_arn=ROLE,
            member_role_name=" keytrail-reader ",
            include_ids=(" 111111111111", "ou-ab12-cdefgh34", "111111111111"),
            exclude_ids=("r-ab12",),
            regions=("eu-west-1",),
        )
    )
    [target] = registry.plan_units(config)
    assert target.unit == "aws_organization" and target.source_key == "123456789012"
    assert target.member_role_name == "keytrail-reader" and target.include_ids == ("111111111111", "ou-ab12-cdefgh34")
    assert target.exclude_ids == ("r-ab12",) and target.regions == ("eu-west-1",)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"member_role_name": ""}, "Member role:"),
        ({"member_role_name": "bad role!"}, "Member role:"),
        ({"include_ids": ("12345678901",)}, "Include: '12345678901' is neither"),  # 11 digits: a typo caught offline
        ({"exclude_ids": ("ou-typo",)}, "Exclude: 'ou-typo' is neither"),
        ({"include_ids": ("111111111111",), "exclude_ids": ("111111111111",)}, "Exclude: 111111111111 is also in Include"),
        ({"role_arn": "arn:aws:iam::123:role/x"}, "Role ARN:"),
    ],
)
def test_an_organisation_with_bad_settings_is_refused_by_name(changes, message):
    config = dataclasses.replace(SourceConfig(kind="aws_organization", role_arn=ROLE, member_role_name="keytrail-reader"), **changes)
    with pytest.raises(ValidationFailed) as caught:
        registry.validate_source_config(config)
    assert str(caught.value).startswith(message)


def test_a_vault_is_three_units_secrets_keys_and_certificates():
    config = registry.validate_source_config(SourceConfig(kind="azure_key_vault", vault_url=" https://kv.vault.azure.net "))
    url = "https://kv.vault.azure.net/"
    assert registry.plan_units(config) == [
        Target(kind=kind, source_key=url, vault_url=url)
        for kind in ("azure_key_vault", "azure_key_vault_keys", "azure_key_vault_certificates")
    ]


def test_inventory_fans_a_source_out_as_the_registry_plans_it(grc_lead):
    from apps.inventory.services.sources import source_create, source_targets

    aws_source = source_create(actor=grc_lead, name="prod", kind="aws_account", role_arn=ROLE, regions=["eu-west-1", "us-east-1"])

    assert [(connector, scope) for connector, scope, _ in source_targets(aws_source)] == [
        (t.kind, t.unit) for t in registry.plan_units(aws_source.config)
    ]
    assert aws_source.location == ROLE


# --- validation -------------------------------------------------------------------------


def test_validation_normalises_and_keeps_only_the_kinds_settings():
    config = registry.validate_source_config(
        SourceConfig(
            kind="aws_account",
            role_arn=f" {ROLE} ",
            external_id=" ext-1 ",
            regions=("eu-west-1", " ", "eu-west-1", "us-east-1"),
            vault_url="https://ignored.vault.azure.net/",
        )
    )
    assert config == SourceConfig(
        kind="aws_account", role_arn=ROLE, external_id="ext-1", regions=("eu-west-1", "us-east-1"), aws_account_id="123456789012"
    )
    vault = registry.validate_source_config(
        SourceConfig(kind="azure_key_vault", vault_url="https://kv.vault.azure.net", role_arn=ROLE, regions=("eu-west-1",))
    )
    assert vault == SourceConfig(kind="azure_key_vault", vault_url="https://kv.vault.azure.net/")


@pytest.mark.parametrize(
    "config, message",
    [
        (
            SourceConfig(kind="aws_account", role_arn="arn:aws:iam::12345:user/bob"),
            "Role ARN: expected arn:aws:iam::<12-digit account>:role/<name>.",
        ),
        (SourceConfig(kind="aws_account"), "Role ARN: expected arn:aws:iam::<12-digit account>:role/<name>."),
        (
            SourceConfig(kind="aws_account", role_arn=ROLE, external_id="x"),
            "External id: 2 to 1224 characters of letters, digits and +=,.@:/-",
        ),
        (
            SourceConfig(kind="aws_account", role_arn=ROLE, regions=("eu-west-1", "mars-north-9x")),
            "Regions: 'mars-north-9x' is not an AWS region name (e.g. eu-west-1).",
        ),
        (
            SourceConfig(kind="azure_key_vault", vault_url="http://kv.vault.azure.net/"),
            "Vault URL: expected https://<vault-name>.vault.azure.net/",
        ),
        (
            SourceConfig(kind="azure_key_vault", vault_url="https://user@kv.vault.azure.net/"),
            "Vault URL: expected https://<vault-name>.vault.azure.net/",
        ),
        (SourceConfig(kind="azure_key_vault"), "Vault URL: expected https://<vault-name>.vault.azure.net/"),
        (
            SourceConfig(kind="gcp_project"),
            "Kind: choose one of aws_account, azure_key_vault, aws_organization, azure_subscription, entra_tenant.",
        ),
        (
            SourceConfig(kind="entra_tenant", graph_tenant_id="contoso.onmicrosoft.com"),
            "Tenant ID: expected the directory id, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47",
        ),
        (
            SourceConfig(kind="entra_tenant", graph_tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47", graph_url="http://graph.example"),
            "Graph endpoint: expected https://<host> (no path), e.g. https://graph.microsoft.com",
        ),
    ],
)
def test_invalid_configurations_are_refused_naming_the_setting(config, message):
    with pytest.raises(ValidationFailed) as refused:
        registry.validate_source_config(config)
    assert str(refused.value) == message
    # The message starts with the label of a setting of the kind (or "Kind"), so forms can place it.
    label = message.split(":", 1)[0]
    labels = {f.label for spec in registry.source_specs() for f in spec.fields} | {"Kind"}
    assert label in labels


# --- forms and commands offer what the registry says -------------------------------------


@pytest.mark.django_db
def test_forms_offer_exactly_the_registrys_kinds(client, grc_lead):
    from apps.inventory.forms import SourceForm
    from apps.reviews.forms import CampaignSettingsForm

    kinds = registry.credential_kind_choices()
    assert list(CampaignSettingsForm().fields["credential_types"].choices) == kinds
    client.force_login(grc_lead)
    assert client.get(reverse("inventory:credential_list")).context["types"] == kinds
    assert client.get(reverse("inventory:identity_list")).context["kinds"] == registry.identity_kind_choices()
    page = client.get(reverse("inventory:source_create"))
    assert page.context["kinds"] == registry.source_kind_choices()
    for spec in registry.source_specs():
        entered = [f.name for f in spec.fields if not f.derived]
        assert list(SourceForm(kind=spec.kind).fields) == ["name", *entered, "schedule_minutes"]
        assert list(SourceForm(kind=spec.kind, with_enabled=True).fields)[-1] == "enabled"
        body = client.get(reverse("inventory:source_create"), {"kind": spec.kind}).content.decode()
        assert all(f'name="{name}"' in body for name in entered)


@pytest.mark.django_db
def test_a_refusal_is_shown_next_to_the_setting_it_names():
    from apps.inventory.forms import SourceForm

    form = SourceForm({"name": "x", "role_arn": "nope", "schedule_minutes": 60}, kind="aws_account")
    assert form.is_valid()
    form.add_service_error("External id: 2 to 1224 characters of letters, digits and +=,.@:/-")
    form.add_service_error("Kind: choose one of aws_account, azure_key_vault, aws_organization, azure_subscription.")
    assert form.errors["external_id"] and form.non_field_errors() == [
        "Kind: choose one of aws_account, azure_key_vault, aws_organization, azure_subscription."
    ]


@pytest.mark.django_db
def test_add_source_registers_any_kind_from_its_settings(grc_lead):
    from apps.inventory.models import Source

    call_command("add_source", "--as", "grc", "--name", "prod", "--aws-role-arn", ROLE, "--regions", "eu-west-1,us-east-1")
    call_command("add_source", "--as", "grc", "--name", "kv", "--kind", "azure_key_vault", "--vault-url", "https://kv.vault.azure.net")
    prod, kv = Source.objects.get(name="prod"), Source.objects.get(name="kv")
    assert (prod.kind, prod.aws_account_id, prod.regions) == ("aws_account", "123456789012", ["eu-west-1", "us-east-1"])
    assert (kv.kind, kv.vault_url) == ("azure_key_vault", "https://kv.vault.azure.net/")
    with pytest.raises(CommandError, match="give --kind, or the required settings of exactly one kind"):
        call_command("add_source", "--as", "grc", "--name", "both", "--role-arn", ROLE, "--vault-url", "https://x.vault.azure.net/")
    with pytest.raises(CommandError, match="Role ARN: expected"):
        call_command("add_source", "--as", "grc", "--name", "bad", "--kind", "aws_account", "--role-arn", "nope")


# --- no per-kind branches outside the connectors -----------------------------------------

# Rules (and the catalog) are per-kind content; simulators and the demo create sources of
# named kinds. Everything else asks the registry.
_ALLOWED = ("connectors/", "evaluation/rules/", "devtools/", "migrations/")
_BRANCH = re.compile(
    r"Kind\.(AWS_ACCOUNT|AZURE_KEY_VAULT)|kind\s*[!=]=\s*[\"'](aws_account|azure_key_vault)[\"']"
    r"|scope\s*[!=]=\s*[\"']aws_iam[\"']"
)


def test_no_module_outside_the_connectors_branches_on_a_source_kind():
    found = []
    for path in sorted(APPS.rglob("*.py")) + sorted((APPS.parent / "templates").rglob("*.html")):
        relative = path.relative_to(APPS if path.is_relative_to(APPS) else APPS.parent).as_posix()
        if relative.startswith(_ALLOWED):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if _BRANCH.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


def test_a_source_config_has_exactly_the_sources_settings():
    from apps.inventory.models import Source

    assert {f.name for f in dataclasses.fields(SourceConfig)} - {"kind"} == set(SETTING_NAMES)
    columns = {f.name for f in Source._meta.get_fields()}
    assert set(SETTING_NAMES) <= columns
