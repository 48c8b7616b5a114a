"""IamConnector's other credential kinds against moto's server over real HTTP: SSH public keys,
service-specific credentials, signing certificates and server certificates.

moto 5.2 does not implement ListServiceSpecificCredentials, and its ListServerCertificates
answers fixed dates (uploaded 2010, expiring 2012) for every certificate. Both are answered by
keytrail's simulated cloud inside moto's server (apps/devtools/simulators/iam_extras.py), over
the same HTTP and in AWS's wire format; nothing here is mocked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.connectors.aws.iam import IamConnector
from apps.connectors.base import ConnectorError, as_jsonable
from apps.devtools.simulators.iam_extras import add_service_specific_credential, set_server_certificate_upload
from apps.devtools.simulators.more_kinds import SSH_KEY_BODY, certificate_pem
from tests.support.aws import ACCOUNT_A


def of_type(result, kind):
    return [c for c in result.credentials if c.credential_type == kind]


@pytest.fixture
def users(iam):
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    iam.create_user(UserName="ci-bot", Tags=[{"Key": "identity-type", "Value": "service"}, {"Key": "owner", "Value": "=HYPERLINK(1)"}])
    return iam


def test_ssh_keys_with_status_and_upload_date(users, target_a):
    active = users.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY)["SSHPublicKey"]
    retired = users.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY.replace("demo", "old"))["SSHPublicKey"]
    users.update_ssh_public_key(UserName="ci-bot", SSHPublicKeyId=retired["SSHPublicKeyId"], Status="Inactive")

    result = IamConnector().collect(target_a)
    keys = {c.external_id: c for c in of_type(result, "ssh_public_key")}
    assert set(keys) == {active["SSHPublicKeyId"], retired["SSHPublicKeyId"]}
    on, off = keys[active["SSHPublicKeyId"]], keys[retired["SSHPublicKeyId"]]
    assert (on.enabled, on.attributes["status"], off.enabled, off.attributes["status"]) == (True, "Active", False, "Inactive")
    assert on.identity_external_id == f"arn:aws:iam::{ACCOUNT_A}:user/ci-bot"
    assert on.created_at is not None and on.last_rotated_at == on.created_at
    assert "AAAAB3" not in json.dumps(as_jsonable(result))  # key bodies are not kept
    assert result.api_calls["ListSSHPublicKeys"] == 2  # one per user
    assert "ListSigningCertificates" not in result.api_calls  # the report shows nobody holds one
    assert not result.errors


def test_service_specific_credentials_come_from_the_simulated_cloud_in_aws_wire_format(users, target_a):
    created = datetime.now(UTC) - timedelta(days=120)
    cid = add_service_specific_credential(ACCOUNT_A, "ci-bot", "cassandra.amazonaws.com", created=created)
    add_service_specific_credential(ACCOUNT_A, "alice", status="Inactive")

    result = IamConnector().collect(target_a)
    found = {c.identity_external_id.rsplit("/", 1)[-1]: c for c in of_type(result, "service_credential")}
    assert set(found) == {"ci-bot", "alice"}
    bot = found["ci-bot"]
    assert bot.external_id == cid and bot.enabled is True
    assert bot.attributes["service_name"] == "cassandra.amazonaws.com" and bot.attributes["service_user_name"]
    assert abs((bot.created_at - created).total_seconds()) < 1
    assert found["alice"].enabled is False
    assert result.api_calls["ListServiceSpecificCredentials"] == 2


def test_signing_certificates_record_expiry_but_not_the_certificate(users, target_a):
    not_after = (datetime.now(UTC) + timedelta(days=200)).replace(microsecond=0)
    body, _ = certificate_pem(not_after=not_after, common_name="alice.signing")
    users.upload_signing_certificate(UserName="alice", CertificateBody=body)

    result = IamConnector().collect(target_a)
    (cert,) = of_type(result, "signing_certificate")
    assert cert.enabled is True and cert.attributes["status"] == "Active"
    assert cert.expires_at == not_after
    assert cert.identity_external_id.endswith(":user/alice")
    assert "BEGIN CERTIFICATE" not in json.dumps(as_jsonable(result))
    # Listed only for the user whose credential-report row shows a certificate.
    assert result.api_calls["ListSigningCertificates"] == 1
    assert result.facts["collection"]["signing_certificates_listed_for"] == 1


def test_server_certificates_with_their_real_expiry(users, target_a):
    now = datetime.now(UTC).replace(microsecond=0)
    body, private = certificate_pem(not_after=now + timedelta(days=12))
    users.upload_server_certificate(ServerCertificateName="web-2026", Path="/cloudfront/", CertificateBody=body, PrivateKey=private)
    set_server_certificate_upload(ACCOUNT_A, "web-2026", now - timedelta(days=350))

    result = IamConnector().collect(target_a)
    (cert,) = of_type(result, "server_certificate")
    assert cert.external_id == f"arn:aws:iam::{ACCOUNT_A}:server-certificate/cloudfront/web-2026"
    assert cert.name == "web-2026" and cert.identity_external_id is None
    assert cert.expires_at == now + timedelta(days=12)
    assert cert.created_at == now - timedelta(days=350)
    assert cert.attributes["path"] == "/cloudfront/" and cert.attributes["server_certificate_id"].startswith("ASCA")
    assert result.facts["collection"]["server_certificates"] == 1
    assert "PRIVATE KEY" not in json.dumps(as_jsonable(result)) and "BEGIN CERTIFICATE" not in json.dumps(as_jsonable(result))


def test_a_user_that_cannot_be_listed_is_an_error_for_that_user_only(users, target_a, fault_proxy):
    users.upload_ssh_public_key(UserName="alice", SSHPublicKeyBody=SSH_KEY_BODY)
    users.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY)
    fault_proxy.fail("ListSSHPublicKeys", "nosuchentity", times=1)

    result = IamConnector().collect(target_a)
    assert len(of_type(result, "ssh_public_key")) == 1
    (error,) = result.errors
    assert "NoSuchEntity" in error["message"] and "ListSSHPublicKeys" in error["message"]
    assert of_type(result, "ssh_public_key")[0].identity_external_id != error["item"]
    assert len(result.identities) == 3  # alice, ci-bot and root: nobody else lost


def test_server_certificates_that_cannot_be_listed_fail_the_unit(users, target_a, fault_proxy):
    # All or nothing, like the users: a missing listing must not make certificates look deleted.
    fault_proxy.fail("ListServerCertificates", "error500")
    with pytest.raises(ConnectorError):
        IamConnector().collect(target_a)


def test_a_repeat_collection_reuses_a_recent_listing_and_says_as_of_when(users, target_a, settings):
    users.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY)
    first = IamConnector().collect(target_a)
    (key,) = of_type(first, "ssh_public_key")
    listed_at = key.attributes["listed_at"]
    assert listed_at and first.facts["collection"]["ssh_and_service_credentials_listed_for"] == 2

    users.upload_ssh_public_key(UserName="alice", SSHPublicKeyBody=SSH_KEY_BODY)  # within the window: not seen yet
    users.create_user(UserName="newcomer")
    users.upload_ssh_public_key(UserName="newcomer", SSHPublicKeyBody=SSH_KEY_BODY)
    repeat = IamConnector().collect(target_a, previous_state=first.state)
    assert repeat.api_calls["ListSSHPublicKeys"] == 1 == repeat.api_calls["ListServiceSpecificCredentials"]  # the new user only
    keys = {c.identity_external_id.rsplit("/", 1)[-1]: c for c in of_type(repeat, "ssh_public_key")}
    assert set(keys) == {"ci-bot", "newcomer"}
    assert keys["ci-bot"].attributes["listed_at"] == listed_at and keys["ci-bot"].external_id == key.external_id
    assert keys["newcomer"].attributes["listed_at"] > listed_at
    assert repeat.facts["collection"]["ssh_and_service_credentials_reused_for"] == 2

    settings.AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS = 0  # list every run
    fresh = IamConnector().collect(target_a, previous_state=repeat.state)
    assert fresh.api_calls["ListSSHPublicKeys"] == 3
    assert {c.identity_external_id.rsplit("/", 1)[-1] for c in of_type(fresh, "ssh_public_key")} == {"ci-bot", "newcomer", "alice"}


def test_a_listing_older_than_the_window_or_unreadable_is_asked_again(users, target_a):
    users.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY)
    state = IamConnector().collect(target_a).state
    old = json.loads(json.dumps(state))
    for entry in old["user_credentials"]["users"].values():
        entry["at"] = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    assert IamConnector().collect(target_a, previous_state=old).api_calls["ListSSHPublicKeys"] == 2
    broken = json.loads(json.dumps(state))
    broken["user_credentials"]["users"] = {arn: {"at": "yesterday"} for arn in broken["user_credentials"]["users"]}
    assert IamConnector().collect(target_a, previous_state=broken).api_calls["ListSSHPublicKeys"] == 2
