"""A scripted connector for orchestration tests.

Why a test double here: these tests pin how runs, units, retries and failures are
recorded, which needs a connector that fails on cue in ways (a bug raising TypeError, a
result that cannot be applied) no simulator can be told to produce. Every connector's
own behaviour is tested against moto's server and the Key Vault simulator over HTTP.
"""

from __future__ import annotations

from collections import Counter

from apps.connectors.aws.iam import IamConnector
from apps.connectors.aws.secrets_manager import SecretsManagerConnector
from apps.connectors.aws.ssm import ParameterStoreConnector
from apps.connectors.azure.key_vault import KeyVaultConnector
from apps.connectors.azure.vault_items import KeyVaultCertificatesConnector, KeyVaultKeysConnector
from apps.connectors.base import Batch, CollectionResult, ConnectorError, CredentialRecord

SCRIPT: dict[str, list] = {}  # scope kind -> list of actions consumed in order


class Scripted:
    """Collects on cue; mixed into a real connector class, whose self-description (source
    kind, unit planning, credential kinds) stays as registered. It returns lists (the
    list-returning contract), whatever the real connector does."""

    streams = False

    def collect(self, target, *, previous_state=None):
        actions = SCRIPT.setdefault(target.unit, [])
        action = actions.pop(0) if actions else "ok"
        if isinstance(action, Exception):
            raise action
        result = CollectionResult(target=target, api_calls=Counter({"ListThings": 2}))
        if action == "ok":
            result.credentials.append(CredentialRecord(f"cred-{target.unit}", "sm_secret", "db"))
        elif action == "unappliable":
            result.credentials.append(CredentialRecord(f"cred-{target.unit}", "sm_secret", "db", rotation_interval_days=-5))
        result.state = {"previous_seen": previous_state}
        return result


class ScriptedIam(Scripted, IamConnector):
    pass


class ScriptedSecretsManager(Scripted, SecretsManagerConnector):
    pass


class ScriptedParameterStore(Scripted, ParameterStoreConnector):
    pass


class ScriptedKeyVault(Scripted, KeyVaultConnector):
    pass


class StreamingScripted(SecretsManagerConnector):
    """A streaming connector on cue: each action in ``SCRIPT[target.unit]`` is a list of
    batches (lists of CredentialRecord) and, possibly last, an exception raised mid-stream
    after the batches before it were handed on."""

    streams = True

    def collect_stream(self, target, *, previous_state=None):
        actions = SCRIPT.setdefault(target.unit, [])
        steps = actions.pop(0) if actions else []
        result = CollectionResult(target=target, api_calls=Counter({"ListThings": 1}))

        def stream():
            for step in steps:
                if isinstance(step, Exception):
                    raise step
                result.api_calls["ListThings"] += 1
                yield Batch(credentials=list(step))
            result.facts = {"batches": len(steps)}
            result.state = {"previous_seen": previous_state}

        result.stream = stream()
        return result


class ScriptedKeyVaultKeys(Scripted, KeyVaultKeysConnector):
    pass


class ScriptedKeyVaultCertificates(Scripted, KeyVaultCertificatesConnector):
    pass


# registry key -> the scripted stand-in's dotted path, for ``registry.CONNECTORS``
SCRIPTED = {
    "aws_iam": "tests.inventory.scripted.ScriptedIam",
    "aws_secrets_manager": "tests.inventory.scripted.ScriptedSecretsManager",
    "aws_ssm": "tests.inventory.scripted.ScriptedParameterStore",
    "azure_key_vault": "tests.inventory.scripted.ScriptedKeyVault",
    "azure_key_vault_keys": "tests.inventory.scripted.ScriptedKeyVaultKeys",
    "azure_key_vault_certificates": "tests.inventory.scripted.ScriptedKeyVaultCertificates",
}


def throttled():
    return ConnectorError("Rate exceeded", code="throttled", retryable=True)


def refused():
    return ConnectorError("AccessDenied: cannot assume role", code="assume_role_failed")
