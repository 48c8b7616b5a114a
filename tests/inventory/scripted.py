"""A scripted connector for orchestration tests.

Why a test double here: these tests pin how runs, units, retries and failures are
recorded, which needs a connector that fails on cue in ways (a bug raising TypeError, a
result that cannot be applied) no simulator can be told to produce. Every connector's
own behaviour is tested against moto's server and the Key Vault simulator over HTTP.
"""

from __future__ import annotations

from collections import Counter

from apps.connectors.base import CollectionResult, Connector, ConnectorError, CredentialRecord

SCRIPT: dict[str, list] = {}  # scope kind -> list of actions consumed in order


class ScriptedConnector(Connector):
    kind = "scripted"

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


def throttled():
    return ConnectorError("Rate exceeded", code="throttled", retryable=True)


def refused():
    return ConnectorError("AccessDenied: cannot assume role", code="assume_role_failed")
