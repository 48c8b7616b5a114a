"""The organisation's policy: thresholds the rules judge against. Pure (no ORM).

Stored as JSON in ``PolicyVersion.data``; :func:`policy_from_dict` validates it and refuses
impossible values with a message naming the field. The defaults are the source guidance's
numbers (rotation: IAM user keys 90 days, database credentials 60, external API keys 180,
service-account passwords 90, certificates 365) and common practice (45 days unused; SSH
public keys replaced yearly, service-specific credentials like other passwords, 90 days).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

CREDENTIAL_CLASSES = (
    "iam-user-key",
    "console-password",
    "root-key",
    "database",
    "external-api",
    "service-account",
    "certificate",
    "ssh-key",
    "service-credential",
    "vault-key",
    "third-party",
    "default",
)

DEFAULT_POLICY: dict[str, Any] = {
    "rotation_days": {
        "iam-user-key": 90,
        "database": 60,
        "external-api": 180,
        "service-account": 90,
        "certificate": 365,
        "console-password": 90,
        "root-key": 90,
        # IAM users' SSH public keys (CodeCommit) and service-specific credentials (CodeCommit,
        # Keyspaces passwords): a key pair is replaced yearly, a password like other passwords.
        "ssh-key": 365,
        "service-credential": 90,
        # Azure Key Vault keys (encryption, signing): a rotation policy's interval, at most yearly.
        "vault-key": 365,
        # Credentials held for or by another organisation (access keys of IAM users tagged as
        # third-party, an Entra ID application owned by another tenant): replaced at least
        # quarterly, and sooner where the contract says so.
        "third-party": 90,
        "default": 90,
    },
    "unused_days": 45,
    "console_unused_days": 45,
    "inactive_key_max_days": 30,
    "sm_not_accessed_days": 90,
    "kv_expiry_warning_days": 30,
    "kv_max_validity_days": 365,
    # Entra ID client secrets: the longest lifetime (start to end date) allowed. Microsoft's own
    # guidance recommends short lifetimes (the portal proposes 180 days).
    "entra_secret_max_lifetime_days": 180,
    # IAM server certificates expiring within this many days fail (expired ones always do).
    "certificate_expiry_warning_days": 30,
    # Key Vault certificates expiring within this many days fail unless they renew themselves.
    "kv_certificate_warning_days": 30,
    # Privileged and non-human credentials are decided on in a signed-off access review at
    # least this often (quarterly).
    "review_interval_days": 92,
    "password_min_length": 14,
    "password_max_age_days": 90,
    "password_reuse_prevention": 24,
    "password_require_symbols": True,
    "password_require_numbers": True,
    "password_require_uppercase": True,
    "password_require_lowercase": True,
    "owner_tag_keys": ["owner", "owner-email", "ownerEmail", "contact"],
    "request_tag_keys": ["request-ref", "request", "ticket", "change-ref"],
    "classification": [
        {"class": "database", "tag_key": "class", "tag_value": "database"},
        {"class": "external-api", "tag_key": "class", "tag_value": "external-api"},
        {"class": "service-account", "tag_key": "class", "tag_value": "service-account"},
        {"class": "certificate", "tag_key": "class", "tag_value": "certificate"},
        {"class": "database", "name_pattern": "*db*"},
        {"class": "database", "name_pattern": "*postgres*"},
        {"class": "database", "name_pattern": "*mysql*"},
        {"class": "certificate", "name_pattern": "*cert*"},
        {"class": "certificate", "name_pattern": "*tls*"},
        {"class": "external-api", "name_pattern": "*api*"},
        {"class": "external-api", "name_pattern": "*token*"},
        {"class": "service-account", "name_pattern": "*svc*"},
        {"class": "service-account", "name_pattern": "*service*"},
    ],
    # A source whose last successful collection of a scope is older than schedule × factor
    # (or whose latest attempt failed) leaves the rules it feeds "not assessed".
    "coverage_grace_factor": 2.0,
    # Key Vaults discovered in an Azure subscription (their Resource Manager facts): storage of
    # secrets is protected when soft delete keeps deleted secrets at least this many days, purge
    # protection is on (if required) and the vault is not reachable from every network (unless
    # allowed); at most this many principals hold secret "get" through access policies.
    "kv_vault_min_soft_delete_days": 7,
    "kv_vault_require_purge_protection": True,
    "kv_vault_allow_public_network": False,
    "kv_vault_max_secret_readers": 5,
    # A failing finding is due this many days after it first failed, by the rule's severity
    # (the findings queue: owner, due date, overdue).
    "finding_sla_days": {"critical": 7, "high": 30, "medium": 90, "low": 180},
    # Identity controls proven from AWS metadata (9.2.4.04, 9.2.4.14, 9.2.4.16, 9.3.1.07).
    # A tag marks a user as break-glass / third-party when its key matches (case-insensitive)
    # and its value is one of the flag values (case-insensitive, trimmed).
    "break_glass_tag_key": "break-glass",
    "third_party_tag_key": "third-party",
    "flag_tag_values": ["true", "yes", "1"],
    # Break-glass users must have MFA; a hardware device (not a virtual one) when this is true.
    "break_glass_require_hardware_mfa": True,
    # Any use of a break-glass user's password or keys within this many days is a finding.
    "break_glass_use_window_days": 90,
    # Third-party users carry an expiry tag (one of these keys) with an ISO date.
    "expiry_tag_keys": ["expires", "expiry", "expiry-date", "end-date"],
    # Secrets of these classes are handed over and must be rotated (a new version) within
    # handover_rotation_days of creation once used.
    "handover_rotation_classes": ["external-api"],
    "handover_rotation_days": 30,
    # Most human IAM users with a console password, in percent of human IAM users.
    "max_console_password_user_percent": 10,
    # 9.2.4.07 least-privilege read. Other AWS accounts a secret's resource policy may let read
    # its value (12-digit ids; the secret's own account always may).
    "secret_read_trusted_accounts": [],
    # How many IAM users/roles of an account may hold read access to every secret or parameter
    # (after the exempt ones, e.g. a break-glass role, matched by ARN pattern).
    "broad_secret_readers_max": 0,
    "broad_secret_reader_exempt": [],
    # 9.2.4.18 logging: a qualifying CloudTrail trail must have log-file validation on.
    "cloudtrail_require_log_file_validation": True,
}
SEVERITIES = ("low", "medium", "high", "critical")  # every rule has one (rules.base)

_TYPE_CLASS = {
    "access_key": "iam-user-key",
    "console_password": "console-password",
    "root_access_key": "root-key",
    "ssh_public_key": "ssh-key",
    "service_credential": "service-credential",
    "signing_certificate": "certificate",
    "server_certificate": "certificate",
    "kv_key": "vault-key",
    "kv_certificate": "certificate",
}


class PolicyError(ValueError):
    """The policy has an impossible value; the message names the field."""


@dataclass(frozen=True)
class ClassRule:
    credential_class: str
    tag_key: str = ""
    tag_value: str = ""
    name_pattern: str = ""

    def matches(self, name: str, tags: dict[str, str]) -> bool:
        if self.tag_key:
            value = {k.lower(): v for k, v in tags.items()}.get(self.tag_key.lower())
            return value is not None and value.strip().lower() == self.tag_value.lower()
        return bool(self.name_pattern) and fnmatch.fnmatchcase(name.lower(), self.name_pattern.lower())

    @cached_property
    def name_regex(self) -> re.Pattern | None:
        return re.compile(fnmatch.translate(self.name_pattern.lower())) if self.name_pattern else None


@dataclass(frozen=True)
class Policy:
    rotation_days: dict[str, int]
    unused_days: int
    console_unused_days: int
    inactive_key_max_days: int
    sm_not_accessed_days: int
    kv_expiry_warning_days: int
    kv_max_validity_days: int
    certificate_expiry_warning_days: int
    kv_certificate_warning_days: int
    review_interval_days: int
    password_min_length: int
    password_max_age_days: int
    password_reuse_prevention: int
    password_require_symbols: bool
    password_require_numbers: bool
    password_require_uppercase: bool
    password_require_lowercase: bool
    owner_tag_keys: tuple[str, ...]
    request_tag_keys: tuple[str, ...]
    classification: tuple[ClassRule, ...] = field(default_factory=tuple)
    coverage_grace_factor: float = 2.0
    finding_sla_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_POLICY["finding_sla_days"]))
    kv_vault_min_soft_delete_days: int = 7
    kv_vault_require_purge_protection: bool = True
    kv_vault_allow_public_network: bool = False
    kv_vault_max_secret_readers: int = 5
    entra_secret_max_lifetime_days: int = 180
    break_glass_tag_key: str = "break-glass"
    third_party_tag_key: str = "third-party"
    flag_tag_values: tuple[str, ...] = ("true", "yes", "1")
    break_glass_require_hardware_mfa: bool = True
    break_glass_use_window_days: int = 90
    expiry_tag_keys: tuple[str, ...] = ("expires", "expiry", "expiry-date", "end-date")
    handover_rotation_classes: tuple[str, ...] = ("external-api",)
    handover_rotation_days: int = 30
    max_console_password_user_percent: int = 10
    secret_read_trusted_accounts: tuple[str, ...] = ()
    broad_secret_readers_max: int = 0
    broad_secret_reader_exempt: tuple[str, ...] = ()
    cloudtrail_require_log_file_validation: bool = True

    def rotation_limit(self, credential_class: str) -> int:
        return self.rotation_days.get(credential_class, self.rotation_days["default"])

    def classify(self, credential_type: str, name: str, tags: dict[str, str]) -> str:
        """The credential's class: fixed for IAM keys, passwords and root keys; for secrets the
        first matching classification rule (tags, then name patterns, in order), else default."""
        if credential_type in _TYPE_CLASS:
            return _TYPE_CLASS[credential_type]
        # Same result as ClassRule.matches for each rule in order, without per-call work:
        # tags lowered once, name patterns precompiled (this runs for every secret).
        lowered_tags = {k.lower(): v.strip().lower() for k, v in tags.items() if isinstance(v, str)} if tags else {}
        lowered_name = name.lower()
        for rule, key, value, regex in self._compiled_classification:
            if key:
                if lowered_tags.get(key) == value:
                    return rule.credential_class
            elif regex is not None and regex.match(lowered_name):
                return rule.credential_class
        return "default"

    @cached_property
    def _compiled_classification(self) -> tuple:
        return tuple((r, r.tag_key.lower(), r.tag_value.lower(), r.name_regex) for r in self.classification)

    def finding_due_days(self, severity: str) -> int:
        """Days a failing finding of ``severity`` has before it is overdue (unknown: the longest)."""
        return self.finding_sla_days.get(severity, max(self.finding_sla_days.values()))

    def tag_flag(self, tags: dict[str, str], key: str) -> bool:
        """True when tag ``key`` (case-insensitive) carries one of the flag values."""
        wanted = key.lower()
        for k, v in tags.items():
            if k.lower() == wanted and isinstance(v, str) and v.strip().lower() in self.flag_tag_values:
                return True
        return False

    def tag_value(self, tags: dict[str, str], keys: tuple[str, ...]) -> str:
        lowered = {k.lower(): v for k, v in tags.items()}
        cacheable = type(keys) is tuple
        wanted = self._lowered_keys.get(keys) if cacheable else None
        if wanted is None:
            wanted = tuple(key.lower() for key in keys)
            if cacheable:
                self._lowered_keys[keys] = wanted
        for key in wanted:
            value = lowered.get(key)
            if value and value.strip():
                return value.strip()
        return ""

    @cached_property
    def _lowered_keys(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        """Each tuple of tag keys :meth:`tag_value` was asked for, lowered once (the policy's few)."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["owner_tag_keys"] = list(self.owner_tag_keys)
        data["request_tag_keys"] = list(self.request_tag_keys)
        for name in ("flag_tag_values", "expiry_tag_keys", "handover_rotation_classes"):
            data[name] = list(getattr(self, name))
        data["secret_read_trusted_accounts"] = list(self.secret_read_trusted_accounts)
        data["broad_secret_reader_exempt"] = list(self.broad_secret_reader_exempt)
        data["classification"] = [
            {
                k: v
                for k, v in (
                    ("class", c.credential_class),
                    ("tag_key", c.tag_key),
                    ("tag_value", c.tag_value),
                    ("name_pattern", c.name_pattern),
                )
                if v
            }
            for c in self.classification
        ]
        return data


_INT_FIELDS = {  # field: (minimum, maximum)
    "unused_days": (1, 3650),
    "console_unused_days": (1, 3650),
    "inactive_key_max_days": (0, 3650),
    "sm_not_accessed_days": (1, 3650),
    "kv_expiry_warning_days": (0, 3650),
    "kv_max_validity_days": (1, 36500),
    "entra_secret_max_lifetime_days": (1, 3650),
    "certificate_expiry_warning_days": (0, 3650),
    "kv_certificate_warning_days": (0, 3650),
    "review_interval_days": (1, 3650),
    "password_min_length": (6, 128),
    "password_max_age_days": (0, 3650),
    "password_reuse_prevention": (0, 24),
    "kv_vault_min_soft_delete_days": (7, 90),  # Key Vault keeps deleted objects 7 to 90 days
    "kv_vault_max_secret_readers": (1, 1000),
    "break_glass_use_window_days": (1, 3650),
    "handover_rotation_days": (1, 3650),
    "max_console_password_user_percent": (0, 100),
    "broad_secret_readers_max": (0, 10000),
}
_BOOL_FIELDS = (
    "password_require_symbols",
    "password_require_numbers",
    "password_require_uppercase",
    "password_require_lowercase",
    "kv_vault_require_purge_protection",
    "kv_vault_allow_public_network",
    "break_glass_require_hardware_mfa",
    "cloudtrail_require_log_file_validation",
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
MAX_LIST_ENTRIES = 200


def _int(data: dict, name: str, lo: int, hi: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{name}: expected a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise PolicyError(f"{name}: {value} is outside {lo}–{hi}")
    return value


def policy_from_dict(raw: dict[str, Any]) -> Policy:
    """Validate ``raw`` (missing keys take the defaults) and return a Policy; raises PolicyError."""
    if not isinstance(raw, dict):
        raise PolicyError("the policy must be a mapping")
    unknown = set(raw) - set(DEFAULT_POLICY)
    if unknown:
        raise PolicyError(f"unknown policy fields: {', '.join(sorted(unknown))}")
    data = {**DEFAULT_POLICY, **raw}
    rotation = data["rotation_days"]
    if not isinstance(rotation, dict) or "default" not in rotation:
        raise PolicyError("rotation_days: a mapping of credential class to days, with a 'default'")
    for klass in rotation:
        if klass not in CREDENTIAL_CLASSES:
            raise PolicyError(f"rotation_days: unknown credential class {klass!r}")
        _int(rotation, klass, 1, 3650)
    ints: dict[str, Any] = {name: _int(data, name, *bounds) for name, bounds in _INT_FIELDS.items()}
    if ints["kv_expiry_warning_days"] >= ints["kv_max_validity_days"]:
        raise PolicyError("kv_expiry_warning_days must be below kv_max_validity_days")
    bools: dict[str, Any] = {}
    for name in _BOOL_FIELDS:
        if not isinstance(data[name], bool):
            raise PolicyError(f"{name}: expected true or false")
        bools[name] = data[name]
    tag_lists: dict[str, Any] = {}
    for name in ("owner_tag_keys", "request_tag_keys"):
        keys = data[name]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k.strip() and len(k) <= 128 for k in keys):
            raise PolicyError(f"{name}: a non-empty list of tag keys")
        tag_lists[name] = tuple(k.strip() for k in keys)
    for name in ("break_glass_tag_key", "third_party_tag_key"):
        value = data[name]
        if not isinstance(value, str) or not value.strip() or len(value) > 128:
            raise PolicyError(f"{name}: a tag key of 1 to 128 characters")
        tag_lists[name] = value.strip()
    for name in ("flag_tag_values", "expiry_tag_keys"):
        values = data[name]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() and len(v) <= 256 for v in values):
            raise PolicyError(f"{name}: a non-empty list of tag values or keys")
        tag_lists[name] = tuple(v.strip().lower() if name == "flag_tag_values" else v.strip() for v in values)
    handover = data["handover_rotation_classes"]
    if not isinstance(handover, list) or not all(isinstance(k, str) and k in CREDENTIAL_CLASSES for k in handover):
        raise PolicyError(f"handover_rotation_classes: a list of credential classes ({', '.join(CREDENTIAL_CLASSES)})")
    tag_lists["handover_rotation_classes"] = tuple(handover)
    rules = []
    for i, item in enumerate(data["classification"]):
        if not isinstance(item, dict) or item.get("class") not in CREDENTIAL_CLASSES:
            raise PolicyError(f"classification #{i + 1}: 'class' must be one of {', '.join(CREDENTIAL_CLASSES)}")
        has_tag, has_name = bool(item.get("tag_key")), bool(item.get("name_pattern"))
        if has_tag == has_name:
            raise PolicyError(f"classification #{i + 1}: give either tag_key/tag_value or name_pattern")
        if has_tag and not isinstance(item.get("tag_value"), str):
            raise PolicyError(f"classification #{i + 1}: tag_value must be text")
        rules.append(
            ClassRule(item["class"], str(item.get("tag_key", "")), str(item.get("tag_value", "")), str(item.get("name_pattern", "")))
        )
    factor = data["coverage_grace_factor"]
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 1 <= factor <= 10:
        raise PolicyError("coverage_grace_factor: a number from 1 to 10")
    sla = data["finding_sla_days"]
    if not isinstance(sla, dict) or set(sla) != set(SEVERITIES):
        raise PolicyError(f"finding_sla_days: days for each severity ({', '.join(SEVERITIES)})")
    for severity in SEVERITIES:
        _int(sla, severity, 1, 3650)
    # The Key Vault limits are passed by name: they follow fields with defaults in Policy.
    min_soft_delete = ints.pop("kv_vault_min_soft_delete_days")
    max_readers = ints.pop("kv_vault_max_secret_readers")
    require_purge = bools.pop("kv_vault_require_purge_protection")
    allow_public = bools.pop("kv_vault_allow_public_network")
    trusted = data["secret_read_trusted_accounts"]
    if (
        not isinstance(trusted, list)
        or len(trusted) > MAX_LIST_ENTRIES
        or not all(isinstance(a, str) and _ACCOUNT_ID.match(a) for a in trusted)
    ):
        raise PolicyError(f"secret_read_trusted_accounts: a list of at most {MAX_LIST_ENTRIES} 12-digit AWS account ids")
    exempt = data["broad_secret_reader_exempt"]
    if (
        not isinstance(exempt, list)
        or len(exempt) > MAX_LIST_ENTRIES
        or not all(isinstance(p, str) and p.strip() and len(p) <= 2048 for p in exempt)
    ):
        raise PolicyError(f"broad_secret_reader_exempt: a list of at most {MAX_LIST_ENTRIES} ARN patterns (e.g. *:role/break-glass)")
    return Policy(
        rotation_days=dict(rotation),
        **ints,
        **bools,
        **tag_lists,
        classification=tuple(rules),
        coverage_grace_factor=float(factor),
        finding_sla_days={s: sla[s] for s in SEVERITIES},
        kv_vault_min_soft_delete_days=min_soft_delete,
        kv_vault_require_purge_protection=require_purge,
        kv_vault_allow_public_network=allow_public,
        kv_vault_max_secret_readers=max_readers,
        secret_read_trusted_accounts=tuple(dict.fromkeys(trusted)),
        broad_secret_reader_exempt=tuple(p.strip() for p in exempt),
    )


def default_policy() -> Policy:
    return policy_from_dict({})
