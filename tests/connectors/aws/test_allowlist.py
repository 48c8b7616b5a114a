"""The AWS allowlist (apps/connectors/aws/allowlist.py), against moto's server over HTTP.

Every client keytrail builds may call only the listed metadata reads; everything else is
refused before a request is built, logged, and raised as ``OperationRefused``. These tests
prove: the connectors call nothing off the list (and exactly what docs/connectors.md says
they call today); every other operation of every service keytrail builds clients for is
refused without a single request reaching the server; the named value-reading calls are
refused on real data; the guard sits on the session, so a client made without
``make_client`` is guarded too; only ``client.py`` creates AWS sessions or clients.
"""

from __future__ import annotations

import ast
import logging
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.session
import pytest
from moto.iam.models import IAMBackend

from apps.connectors.aws import allowlist
from apps.connectors.aws import client as aws_client
from apps.connectors.aws.allowlist import ALLOWED_OPERATIONS, OperationRefused, is_allowed
from apps.connectors.aws.client import make_client, new_session, session_for_target
from apps.connectors.aws.iam import IamConnector
from apps.connectors.aws.organization import OrganizationConnector
from apps.connectors.aws.regions import RegionsConnector
from apps.connectors.aws.secrets_manager import SecretsManagerConnector
from apps.connectors.aws.ssm import ParameterStoreConnector
from apps.connectors.base import ConnectorError, Target
from apps.connectors.kinds import CredentialKind
from apps.devtools.simulators.aws_organization import add_account, create_organization
from apps.devtools.simulators.iam_extras import add_service_specific_credential
from apps.devtools.simulators.more_kinds import SSH_KEY_BODY, certificate_pem
from tests.support.aws import ACCOUNT_A, sm_target

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "connectors.md"
APPS = ROOT / "apps"
GUARD_LOGGER = "apps.connectors.aws.allowlist"
# The services keytrail builds clients for today or will with issue #16, plus two it must
# never call (KMS could decrypt; S3 stands for any service nobody listed).
SERVICES = ("iam", "sts", "secretsmanager", "ssm", "organizations", "ec2", "account", "cloudtrail", "kms", "s3")
DOC_ROW = re.compile(r"^\| `(?P<service>[a-z0-9-]+)` \| `(?P<operation>\w+)` \| (?P<today>yes|–) \| (?P<why>.+) \|$")


def documented_rows() -> list[dict[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### Every AWS operation keytrail may call", 1)[1].split("\n### ", 1)[0]
    return [m.groupdict() for m in map(DOC_ROW.match, section.splitlines()) if m]


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == GUARD_LOGGER and r.levelno == logging.ERROR]


@pytest.fixture
def called(monkeypatch):
    """Every (service, operation) keytrail's own sessions call, as botocore sees it (``before-call``)."""
    seen: set[tuple[str, str]] = set()
    real_new_session = aws_client.new_session

    def record(model, **kwargs):
        seen.add((model.service_model.service_name, model.name))

    def recording_session(**kwargs):
        session = real_new_session(**kwargs)
        session.events.register("before-call", record)
        return session

    monkeypatch.setattr(aws_client, "new_session", recording_session)
    return seen


# --- the data and its documentation ----------------------------------------------------


def test_every_listed_operation_is_a_real_operation_with_a_one_line_reason():
    core = botocore.session.get_session()
    problems = []
    for service, operations in ALLOWED_OPERATIONS.items():
        real = set(core.get_service_model(service).operation_names)
        for operation, why in operations.items():
            if operation not in real:
                problems.append(f"{service}:{operation} is not an operation of {service}")
            if not why.strip() or "\n" in why or "|" in why:
                problems.append(f"{service}:{operation} needs a one-line reason (no '|')")
    assert not problems, problems
    assert "kms" not in ALLOWED_OPERATIONS and "s3" not in ALLOWED_OPERATIONS


def test_docs_list_exactly_the_allowlist_with_its_reasons():
    documented = {(r["service"], r["operation"]): r["why"] for r in documented_rows()}
    data = {(s, op): why for s, ops in ALLOWED_OPERATIONS.items() for op, why in ops.items()}
    missing = sorted(f"| `{s}` | `{op}` | – | {why} |" for (s, op), why in data.items() if documented.get((s, op)) != why)
    extra = sorted(f"{s}:{op}" for s, op in documented.keys() - data.keys())
    assert not missing, "docs/connectors.md lacks (or words differently) these rows:\n" + "\n".join(missing)
    assert not extra, f"docs/connectors.md lists operations that are not allowed: {extra}"


# --- what the connectors call ----------------------------------------------------------


@pytest.fixture
def account(iam, moto_url, monkeypatch):
    """Users with passwords, keys and MFA, a password policy, one user newer than the
    credential report (as AWS serves a report up to 4 h old), secrets in two regions."""
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    iam.enable_mfa_device(UserName="alice", SerialNumber=device["SerialNumber"], AuthenticationCode1="123456", AuthenticationCode2="654321")
    iam.create_access_key(UserName="alice")
    iam.create_user(UserName="ci-bot", Tags=[{"Key": "identity-type", "Value": "service"}])
    iam.create_access_key(UserName="ci-bot")
    iam.create_access_key(UserName="ci-bot")
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)
    iam.create_user(UserName="late")
    iam.create_login_profile(UserName="late", Password="Battery-Staple-7!")
    iam.create_access_key(UserName="late")

    original = IAMBackend.get_credential_report

    def without_late(self):
        return "".join(line for line in original(self).splitlines(keepends=True) if ":user/late," not in line)

    monkeypatch.setattr(IAMBackend, "get_credential_report", without_late)
    for region in ("eu-west-1", "us-east-1"):
        sm = boto3.client("secretsmanager", endpoint_url=moto_url, region_name=region)
        sm.create_secret(Name=f"db-{region}", SecretString="never-read", Tags=[{"Key": "owner", "Value": "ops"}])
        ssm = boto3.client("ssm", endpoint_url=moto_url, region_name=region)
        ssm.put_parameter(Name=f"/app/{region}/db-password", Value="never-read", Type="SecureString")
    # The other IAM credential kinds (moto's server answers ListServiceSpecificCredentials
    # through keytrail's simulated cloud: apps/devtools/simulators/iam_extras.py).
    iam.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY)
    add_service_specific_credential(ACCOUNT_A, "ci-bot")
    body, private = certificate_pem(not_after=datetime.now(UTC) + timedelta(days=90))
    iam.upload_signing_certificate(UserName="alice", CertificateBody=body)
    iam.upload_server_certificate(ServerCertificateName="web", CertificateBody=body, PrivateKey=private)
    # A multi-region trail (DescribeTrails, then GetTrailStatus and GetEventSelectors in its home region).
    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket="trail-logs")
    boto3.client("cloudtrail", endpoint_url=moto_url, region_name="eu-west-1").create_trail(
        Name="everywhere", S3BucketName="trail-logs", IsMultiRegionTrail=True
    )


def test_connectors_call_only_listed_operations_exactly_those_documented_as_called_today(account, called, fault_proxy, target_a):
    iam_result = IamConnector().collect(target_a)
    sm_results = [SecretsManagerConnector().collect(sm_target(region)) for region in ("eu-west-1", "us-east-1")]
    ssm_results = [ParameterStoreConnector().collect(replace(sm_target(region), kind="aws_ssm")) for region in ("eu-west-1", "us-east-1")]
    regions = RegionsConnector().collect(Target(kind="aws_regions", source_key=target_a.source_key, role_arn=target_a.role_arn))
    organization = create_organization(fault_proxy.upstream.geturl())
    add_account(fault_proxy.upstream.geturl(), organization, "payments", ou="regulated")
    org_result = OrganizationConnector().collect(
        Target(
            kind="aws_organization",
            source_key=target_a.source_key,
            role_arn=target_a.role_arn,
            member_role_name="keytrail-reader",
            include_ids=(organization.ous["regulated"],),
        )
    )
    assert regions.spawn and [m.name for m in org_result.members] == ["payments"] and not org_result.errors

    # The scenario really ran every path: a user newer than the report (GetLoginProfile,
    # GetAccessKeyLastUsed), keys, MFA, the policy, and a secret per region.
    assert not iam_result.errors and not any(r.errors for r in sm_results + ssm_results)
    late_key = next(
        c for c in iam_result.credentials if c.credential_type == CredentialKind.ACCESS_KEY and ":user/late" in c.identity_external_id
    )
    assert late_key.attributes["slot_match"] == "not_in_report"
    assert iam_result.facts["password_policy"]["MinimumPasswordLength"] == 14
    assert [len(r.credentials) for r in sm_results] == [1, 1]
    assert [len(r.credentials) for r in ssm_results] == [1, 1]
    kinds = {c.credential_type for c in iam_result.credentials}
    assert {"ssh_public_key", "service_credential", "signing_certificate", "server_certificate"} <= kinds

    off_list = sorted(f"{s}:{op}" for s, op in called if not is_allowed(s, op))
    assert not off_list, f"the connectors called operations that are not on the allowlist: {off_list}"
    documented_today = {(r["service"], r["operation"]) for r in documented_rows() if r["today"] == "yes"}
    assert called == documented_today, (
        f"called but not marked 'yes' in docs/connectors.md: {sorted(called - documented_today)}; "
        f"marked 'yes' but not called: {sorted(documented_today - called)}"
    )
    # What botocore was asked for is what reached the wire.
    assert set(fault_proxy.seen) == {op for _, op in called}


@pytest.mark.parametrize(("service", "operation"), [("iam", "GetAccountPasswordPolicy"), ("iam", "GetAccessKeyLastUsed")])
def test_a_refusal_inside_a_collection_fails_the_unit_and_is_logged(
    account, fault_proxy, target_a, monkeypatch, caplog, service, operation
):
    # Take one operation the connector calls off the list (the optional password-policy
    # read, the per-key last-use read): the refusal must fail the account, not be filed
    # as a per-item problem next to a "successful" collection.
    shrunk = {s: {op: why for op, why in ops.items() if (s, op) != (service, operation)} for s, ops in ALLOWED_OPERATIONS.items()}
    monkeypatch.setattr(allowlist, "ALLOWED_OPERATIONS", shrunk)

    with pytest.raises(ConnectorError) as caught:
        IamConnector().collect(target_a)

    assert caught.value.code == "operation_refused" and caught.value.retryable is False
    assert operation in str(caught.value)
    assert fault_proxy.seen[operation] == 0
    assert any(f"{service}:{operation}" in message for message in refusals(caplog))


# --- everything else is refused, before any request ------------------------------------


def test_every_unlisted_operation_is_refused_before_a_request_is_built(fault_proxy, caplog):
    api_calls: Counter = Counter()
    built: list[str] = []  # events that fire only once a request is being built or sent
    got_through: list[str] = []
    wrong: list[str] = []
    tried = 0
    session = new_session()
    for service in SERVICES:
        client = make_client(session, service, region="us-east-1", api_calls=api_calls)
        for event in ("before-parameter-build", "before-call", "request-created", "before-sign", "before-send"):
            client.meta.events.register(event, lambda event_name, **kwargs: built.append(event_name))
        method_of = {operation: method for method, operation in client.meta.method_to_api_mapping.items()}
        for operation in client.meta.service_model.operation_names:
            if is_allowed(service, operation):
                continue
            tried += 1
            try:
                # No parameters, although most operations require some: the refusal
                # comes before botocore validates them (else ParamValidationError).
                getattr(client, method_of[operation])()
            except OperationRefused as exc:
                if (exc.service, exc.operation, exc.code) != (service, operation, "operation_refused"):
                    wrong.append(f"{service}:{operation} refused as {exc.service}:{exc.operation} ({exc.code})")
            except Exception as exc:  # noqa: BLE001 - every other outcome is a failure, listed below
                wrong.append(f"{service}:{operation} raised {type(exc).__name__}: {exc}")
            else:
                got_through.append(f"{service}:{operation}")

    assert not got_through, f"{len(got_through)} operations got through: {got_through}"
    assert not wrong, f"{len(wrong)} operations were not refused by the allowlist: {wrong}"
    assert tried > 1000  # iam, ec2, ssm, s3 ... each in full
    assert built == [], f"a request was built for: {sorted(set(built))[:20]}"
    assert fault_proxy.seen == Counter(), "requests reached the server"
    assert api_calls == Counter()
    assert len(refusals(caplog)) == tried


def test_secret_values_parameters_and_decryption_are_refused_on_real_data(moto_url, fault_proxy, target_a, caplog):
    region = "eu-west-1"
    secrets = boto3.client("secretsmanager", endpoint_url=moto_url, region_name=region)
    secrets.create_secret(Name="crown-jewels", SecretString="must-never-leave")
    ssm_seed = boto3.client("ssm", endpoint_url=moto_url, region_name=region)
    ssm_seed.put_parameter(Name="/app/db/password", Value="must-never-leave", Type="SecureString")
    kms_seed = boto3.client("kms", endpoint_url=moto_url, region_name=region)
    key_id = kms_seed.create_key()["KeyMetadata"]["KeyId"]
    blob = kms_seed.encrypt(KeyId=key_id, Plaintext=b"must-never-leave")["CiphertextBlob"]
    fault_proxy.seen.clear()

    api_calls: Counter = Counter()
    aws = session_for_target(target_a, api_calls=api_calls)  # keytrail's own session, through AssumeRole
    sm, ssm, kms = (aws.client(name, region=region) for name in ("secretsmanager", "ssm", "kms"))
    value_of = getattr(sm, "get_" + "secret_value")  # built from pieces: apps/ is scanned for the call
    attempts = [
        ("secretsmanager", "GetSecretValue", lambda: value_of(SecretId="crown-jewels")),
        ("secretsmanager", "BatchGetSecretValue", lambda: getattr(sm, "batch_get_" + "secret_value")(SecretIdList=["crown-jewels"])),
        ("ssm", "GetParameter", lambda: ssm.get_parameter(Name="/app/db/password", WithDecryption=True)),
        ("ssm", "GetParameter", lambda: ssm.get_parameter(Name="/app/db/password")),
        ("ssm", "GetParameters", lambda: ssm.get_parameters(Names=["/app/db/password"], WithDecryption=False)),
        (
            "ssm",
            "GetParametersByPath",
            lambda: list(ssm.get_paginator("get_parameters_by_path").paginate(Path="/app", Recursive=True, WithDecryption=True)),
        ),
        ("ssm", "GetParameterHistory", lambda: ssm.get_parameter_history(Name="/app/db/password", WithDecryption=True)),
        ("kms", "Decrypt", lambda: kms.decrypt(CiphertextBlob=blob)),
        # A presigned URL is a request built without being sent: refused as well.
        ("secretsmanager", "GetSecretValue", lambda: sm.generate_presigned_url("get_secret_value", Params={"SecretId": "crown-jewels"})),
    ]
    for service, operation, attempt in attempts:
        with pytest.raises(OperationRefused) as caught:
            attempt()
        assert isinstance(caught.value, ConnectorError) and caught.value.code == "operation_refused"
        assert (caught.value.service, caught.value.operation) == (service, operation)
        assert f"{service}:{operation}" in refusals(caplog)[-1]
    assert len(refusals(caplog)) == len(attempts)

    # Metadata reads of the same data still work through the same clients, paginated.
    pages = list(ssm.get_paginator("describe_parameters").paginate())
    assert [p["Name"] for page in pages for p in page["Parameters"]] == ["/app/db/password"]
    assert "Value" not in str(pages)
    assert set(fault_proxy.seen) == {"AssumeRole", "DescribeParameters"}
    assert set(api_calls) == {"AssumeRole", "DescribeParameters"}


def test_clients_made_from_keytrail_sessions_without_make_client_are_guarded(fault_proxy, target_a):
    assumed = session_for_target(target_a, api_calls=Counter()).session
    for session in (new_session(), assumed):
        ssm = session.client("ssm", region_name="eu-west-1", endpoint_url=fault_proxy.url)
        with pytest.raises(OperationRefused):
            ssm.get_parameter(Name="/app/db/password", WithDecryption=True)
        ssm.describe_parameters()  # on the list: goes through
        user = session.resource("iam", endpoint_url=fault_proxy.url).User("alice")
        with pytest.raises(OperationRefused):
            user.load()  # GetUser: not on the list
    assert fault_proxy.seen["GetParameter"] == fault_proxy.seen["GetUser"] == 0
    assert fault_proxy.seen["DescribeParameters"] == 2


def test_a_client_made_from_a_foreign_session_by_make_client_is_guarded(fault_proxy):
    client = make_client(boto3.Session(), "secretsmanager", region="eu-west-1", api_calls=Counter())
    with pytest.raises(OperationRefused):
        client.delete_secret(SecretId="x", ForceDeleteWithoutRecovery=True)
    assert fault_proxy.seen == Counter()


def test_the_last_check_before_sending_stops_what_skipped_the_first(fault_proxy, caplog):
    # Simulate a botocore path that does not go through provide-client-params: the client's
    # before-send check still keeps the request from leaving.
    client = make_client(new_session(), "ssm", region="eu-west-1", api_calls=Counter())
    client.meta.events.unregister("provide-client-params", unique_id=allowlist.GUARD_ID)
    with pytest.raises(OperationRefused) as caught:
        client.get_parameter(Name="/app/db/password", WithDecryption=True)
    assert (caught.value.service, caught.value.operation) == ("ssm", "GetParameter")
    assert fault_proxy.seen == Counter()
    assert refusals(caplog)


# --- no other path to AWS ------------------------------------------------------------------

FACTORY = APPS / "connectors" / "aws" / "client.py"
DEV_TOOLING = APPS / "devtools"  # seeds moto and runs the bare-SDK benchmark; never installed in production
# keytrail's own infrastructure, not an audited account: the copy of each signed audit checkpoint
# written to the operator's Object Lock bucket (PutObject only; docs/security.md). The audited
# accounts are reached only through the factory.
OWN_STORAGE = {APPS / "audit" / "anchor_targets.py"}
SDK_MODULES = re.compile(r"^(boto3|aioboto3|aiobotocore|botocore\.(session|client|endpoint))(\.|$)")


def test_only_the_client_factory_creates_aws_sessions_or_clients():
    offenders = []
    for path in sorted(APPS.rglob("*.py")):
        if path == FACTORY or path in OWN_STORAGE or DEV_TOOLING in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Attribute) and node.attr in {"create_client", "get_session"}:
                names = [node.attr]
            for name in names:
                if SDK_MODULES.match(name) or name in {"create_client", "get_session"}:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders, "build AWS clients with apps.connectors.aws.client (the allowlist guard), not here:\n" + "\n".join(offenders)
