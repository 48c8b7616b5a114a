"""The policy form: one field per policy value, parsed into the dict ``policy_update`` takes.

The form parses shapes only (whole numbers, comma lists, classification lines); what an
allowed value is (ranges, warning below maximum validity) is the policy's to say
(``policy_from_dict``), and its refusal is shown next to the field it names.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from apps.evaluation.policy import CREDENTIAL_CLASSES, DEFAULT_POLICY, SEVERITIES
from apps.evaluation.selectors import PASSWORD_LABELS, THRESHOLD_LABELS, classification_line

ROTATION_PREFIX = "rotation_"
_INT_POLICY_FIELDS = [key for key, _ in THRESHOLD_LABELS] + ["password_min_length", "password_max_age_days", "password_reuse_prevention"]
_BOOL_POLICY_FIELDS = ["password_require_symbols", "password_require_numbers", "password_require_uppercase", "password_require_lowercase"]
_LINE = re.compile(r"^(?P<klass>[^:]+):\s*(?P<kind>tag|name)\s+(?P<rest>.+)$", re.IGNORECASE)
CLASSIFICATION_HELP = (
    "One rule per line, tried in order; the first that matches gives a secret its class. "
    "<class>: tag <key>=<value> (tag keys and values compare case-insensitively) or "
    "<class>: name <pattern> (* and ? wildcards). Classes: " + ", ".join(CREDENTIAL_CLASSES) + "."
)


def _field_name(klass: str) -> str:
    return ROTATION_PREFIX + klass.replace("-", "_")


def parse_classification(text: str) -> list[dict[str, str]]:
    """The classification lines as policy rules; raises ValidationError naming the first bad line."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise forms.ValidationError(
                "Line %(n)d: expected “class: tag key=value” or “class: name pattern”, got “%(line)s”.",
                params={"n": number, "line": line[:120]},
                code="classification",
            )
        klass, kind, rest = match["klass"].strip(), match["kind"].lower(), match["rest"].strip()
        if klass not in CREDENTIAL_CLASSES:
            raise forms.ValidationError(
                "Line %(n)d: unknown class “%(klass)s”; use one of %(classes)s.",
                params={"n": number, "klass": klass[:60], "classes": ", ".join(CREDENTIAL_CLASSES)},
                code="classification",
            )
        if kind == "tag":
            key, sep, value = rest.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise forms.ValidationError(
                    "Line %(n)d: a tag rule needs key=value, got “%(rest)s”.",
                    params={"n": number, "rest": rest[:120]},
                    code="classification",
                )
            rules.append({"class": klass, "tag_key": key.strip(), "tag_value": value.strip()})
        else:
            rules.append({"class": klass, "name_pattern": rest})
    return rules


_IDENTITY_TEXT_FIELDS = (
    ("break_glass_tag_key", "Break-glass tag key", "A user whose tag with this key holds a flag value is break-glass."),
    ("third_party_tag_key", "Third-party tag key", "A user whose tag with this key holds a flag value belongs to a third party."),
    ("flag_tag_values", "Flag values", "Comma-separated values that mark a user (case-insensitive), e.g. true, yes, 1."),
    ("expiry_tag_keys", "Expiry tag keys", "Comma-separated; a third-party user's end date (ISO date), tried in order."),
    ("handover_rotation_classes", "Handed-over secret classes", "Comma-separated credential classes replaced after hand-over."),
)
_SINGLE_KEYS = ("break_glass_tag_key", "third_party_tag_key")


def _tag_keys(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class PolicyForm(forms.Form):
    """A new version of the policy; every value is required and starts as the version in force."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for klass in CREDENTIAL_CLASSES:
            self.fields[_field_name(klass)] = forms.IntegerField(
                label=f"Rotate {klass} within (days)", help_text="Used when no other class matches." if klass == "default" else ""
            )
        labels = dict(THRESHOLD_LABELS) | dict(PASSWORD_LABELS)
        for name in _INT_POLICY_FIELDS:
            self.fields[name] = forms.IntegerField(label=labels[name])
        for name in _BOOL_POLICY_FIELDS:
            self.fields[name] = forms.BooleanField(label=labels[name], required=False)
        self.fields["owner_tag_keys"] = forms.CharField(
            label="Owner tag keys", max_length=2000, help_text="Comma-separated, tried in order (e.g. owner, owner-email)."
        )
        self.fields["request_tag_keys"] = forms.CharField(
            label="Request reference tag keys", max_length=2000, help_text="Comma-separated, tried in order (e.g. request-ref, ticket)."
        )
        self.fields["classification"] = forms.CharField(
            label="Classification of secrets",
            required=False,
            max_length=20000,
            help_text=CLASSIFICATION_HELP,
            widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "mono"}),
        )
        # Identity controls (9.2.4.04, 9.2.4.14, 9.2.4.16, 9.3.1.07): which users are break-glass / third-party.
        for name, label, help_text in _IDENTITY_TEXT_FIELDS:
            self.fields[name] = forms.CharField(label=label, max_length=2000, help_text=help_text)
        self.fields["break_glass_require_hardware_mfa"] = forms.BooleanField(
            label="Break-glass users need a hardware MFA device", required=False
        )
        self.fields["coverage_grace_factor"] = forms.FloatField(
            label="Coverage grace factor",
            help_text="A source last collected longer ago than its schedule × this factor leaves the rules it feeds not assessed.",
        )
        for severity in SEVERITIES:
            self.fields[f"sla_{severity}"] = forms.IntegerField(label=f"{severity.capitalize()} findings due within (days)")
        self.fields["comment"] = forms.CharField(
            label="Why this change", max_length=300, help_text="Recorded with the version and in the audit trail."
        )

    @property
    def rotation_fields(self):
        return [self[_field_name(k)] for k in CREDENTIAL_CLASSES]

    @property
    def threshold_fields(self):
        return [self[k] for k, _ in THRESHOLD_LABELS]

    @property
    def password_fields(self):
        return [self[k] for k, _ in PASSWORD_LABELS]

    @property
    def sla_fields(self):
        return [self[f"sla_{s}"] for s in SEVERITIES]

    @property
    def other_fields(self):
        identity = [name for name, _, _ in _IDENTITY_TEXT_FIELDS] + ["break_glass_require_hardware_mfa"]
        return [self[k] for k in ("owner_tag_keys", "request_tag_keys", "classification", *identity, "coverage_grace_factor", "comment")]

    def clean_classification(self) -> list[dict[str, str]]:
        return parse_classification(self.cleaned_data.get("classification", ""))

    def clean_owner_tag_keys(self) -> list[str]:
        return _tag_keys(self.cleaned_data.get("owner_tag_keys", ""))

    def clean_request_tag_keys(self) -> list[str]:
        return _tag_keys(self.cleaned_data.get("request_tag_keys", ""))

    def policy_data(self) -> dict[str, Any]:
        """The cleaned values as the policy dict ``policy_update`` validates."""
        data = self.cleaned_data
        policy: dict[str, Any] = {"rotation_days": {k: data[_field_name(k)] for k in CREDENTIAL_CLASSES}}
        for name in (
            _INT_POLICY_FIELDS + _BOOL_POLICY_FIELDS + ["owner_tag_keys", "request_tag_keys", "classification", "coverage_grace_factor"]
        ):
            policy[name] = data[name]
        policy["finding_sla_days"] = {s: data[f"sla_{s}"] for s in SEVERITIES}
        for name, _, _ in _IDENTITY_TEXT_FIELDS:
            text = data.get(name, "")
            policy[name] = text.strip() if name in _SINGLE_KEYS else _tag_keys(text)
        policy["break_glass_require_hardware_mfa"] = data["break_glass_require_hardware_mfa"]
        return policy

    def add_service_error(self, message: str) -> None:
        """Show a refusal next to the field it names ("unused_days: …", "database: …" for a rotation limit), or above the form."""
        text = message.removeprefix("Policy refused: ")
        head = text.partition(":")[0]
        field = head.strip()
        if field in SEVERITIES:  # a finding SLA: "critical: 0 is outside 1–3650"
            field = f"sla_{field}"
        elif field in CREDENTIAL_CLASSES:  # a rotation limit: "database: 0 is outside 1–3650"
            field = _field_name(field)
        elif field.startswith("classification"):
            field = "classification"
        elif field.startswith("kv_expiry_warning_days must be below"):
            field = "kv_expiry_warning_days"
        self.add_error(field if field in self.fields else None, message)

    @classmethod
    def initial_for(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The form's starting values from a stored policy dict (a field added since it was
        stored shows the default it is read with)."""
        data = {**DEFAULT_POLICY, **data}
        rotation = data.get("rotation_days") or {}
        initial: dict[str, Any] = {_field_name(k): rotation.get(k, rotation.get("default")) for k in CREDENTIAL_CLASSES}
        for name in _INT_POLICY_FIELDS + _BOOL_POLICY_FIELDS + ["coverage_grace_factor"]:
            initial[name] = data.get(name)
        sla = data.get("finding_sla_days") or DEFAULT_POLICY["finding_sla_days"]
        for severity in SEVERITIES:
            initial[f"sla_{severity}"] = sla.get(severity)
        initial["owner_tag_keys"] = ", ".join(data.get("owner_tag_keys") or [])
        initial["request_tag_keys"] = ", ".join(data.get("request_tag_keys") or [])
        for name, _, _ in _IDENTITY_TEXT_FIELDS:
            value = data.get(name)
            initial[name] = value if isinstance(value, str) else ", ".join(str(v) for v in value or [])
        initial["break_glass_require_hardware_mfa"] = data.get("break_glass_require_hardware_mfa")
        initial["classification"] = "\n".join(classification_line(i) for i in data.get("classification") or [] if isinstance(i, dict))
        return initial
