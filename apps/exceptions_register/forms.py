"""The exception register's forms: a request, a renewal, and the comment of an action.

The forms parse shapes only (ids are whole numbers, a date is a date). What a valid
exception is (a justification, an expiry within the maximum for its risk, a risk no lower
than its rules' severity without a reason, a scope that excuses something) is the
service's to say; its refusals are shown next to the fields they name
(``add_service_error``), all at once. The request form's scope is chosen by name in
searchable pickers (the ids travel as the checkboxes' values).
"""

from __future__ import annotations

from django import forms
from django.conf import settings

from apps.accounts.models import User
from apps.core.ids import parse_id
from apps.exceptions_register.models import ExceptionRequest
from apps.exceptions_register.scoping import rules_severity
from apps.exceptions_register.selectors import rule_choices

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# The prefix of each service message ("Expiry: …") -> the field it is about.
SERVICE_FIELDS = {
    "Title": "title",
    "Rules": "rule_ids",
    "Justification": "justification",
    "Compensating controls": "compensating_controls",
    "Risk": "risk",
    "Risk reason": "risk_reason",
    "Expiry": "expires_on",
    "Owner": "owner",
    "Comment": "comment",
}
SCOPE_ID_FIELDS = (("credential_ids", "credential"), ("identity_ids", "identity"), ("source_ids", "source"))
RISK_HELP = "Starts at the highest severity of the rules; a lower risk needs a reason, which approvers read."


def max_days_help() -> str:
    limits = settings.KEYTRAIL_EXCEPTION_MAX_DAYS
    parts = [f"{label.lower()} {limits[value]} days" for value, label in ExceptionRequest.Risk.choices if value in limits]
    two = [label.lower() for value, label in ExceptionRequest.Risk.choices if value in settings.KEYTRAIL_EXCEPTION_TWO_APPROVALS]
    text = "The last day the exception applies. At most, from today: " + ", ".join(parts) + "."
    if two:
        text += f" A {' or '.join(two)}-risk exception needs two approvers."
    return text


def _id(value: str) -> int:
    """A whole number that can be a database id (else ValueError: the field's "invalid choice")."""
    number = parse_id(value)
    if number is None:
        raise ValueError(value)
    return number


class IdsField(forms.TypedMultipleChoiceField):
    """Ids chosen in a picker (whole numbers; blanks ignored). Which exist is the service's to say."""

    def __init__(self, *, kind: str, **kwargs):
        super().__init__(coerce=_id, required=False, error_messages={"invalid_choice": f"Not a {kind} id: “%(value)s”."}, **kwargs)
        self.valid_value = lambda value: True  # type: ignore[method-assign]

    def to_python(self, value):
        return [v for v in super().to_python(value) if v.strip()]


class ServiceErrorMixin:
    def add_service_error(self, message: str, *, field_only: bool = False) -> None:
        """Show a service's refusal next to the field it names ("Expiry: …"), else above the
        form (unless ``field_only``: the page already says it)."""
        field = SERVICE_FIELDS.get(message.partition(":")[0].strip())
        if field in self.fields:
            self.add_error(field, message)
        elif not field_only:
            self.add_error(None, message)


class ExceptionRequestForm(ServiceErrorMixin, forms.Form):
    title = forms.CharField(max_length=200, help_text="What is excused, in a line.")
    rule_ids = forms.MultipleChoiceField(
        label="Rules",
        choices=(),
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text="The rules whose failures this exception excuses.",
    )
    credential_ids = IdsField(kind="credential", label="Credentials", help_text="Found by name; a rotated key is a new credential.")
    identity_ids = IdsField(
        kind="identity", label="Identities", help_text="Covers each identity's own verdicts and those of its credentials."
    )
    source_ids = IdsField(kind="source", label="Sources", help_text="Covers every subject collected from these sources.")
    tag_key = forms.CharField(label="Tag key", required=False, max_length=128)
    tag_value = forms.CharField(
        label="Tag value", required=False, max_length=256, help_text="Covers subjects carrying exactly this tag (key and value)."
    )
    confirm_broad = forms.BooleanField(label="The scope is empty on purpose: excuse every subject of these rules", required=False)
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=20000, help_text="Why the rule cannot be met for this scope now."
    )
    compensating_controls = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=20000, help_text="What reduces the risk while the exception runs."
    )
    risk = forms.ChoiceField(choices=ExceptionRequest.Risk.choices, initial=ExceptionRequest.Risk.MEDIUM, help_text=RISK_HELP)
    risk_reason = forms.CharField(
        label="Why the risk is lower than the rules' severity",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only when you chose a risk below the highest severity of the rules.",
    )
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        help_text="Who answers for the exception until it ends; never its approver.",
    )
    expires_on = forms.DateField(label="Expires on", widget=DATE)
    ticket_ref = forms.CharField(label="Ticket reference", required=False, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule_ids"].choices = rule_choices()
        self.fields["expires_on"].help_text = max_days_help()

    @property
    def scope_fields(self):
        return [self[name] for name in ("tag_key", "tag_value", "confirm_broad")]

    @property
    def picker_fields(self):
        return [(self[name], kind) for name, kind in SCOPE_ID_FIELDS]

    @property
    def main_fields(self):
        return [self[name] for name in ("title", "rule_ids")]

    @property
    def reason_fields(self):
        return [
            self[name] for name in ("justification", "compensating_controls", "risk", "risk_reason", "owner", "expires_on", "ticket_ref")
        ]

    def service_kwargs(self) -> dict:
        """The cleaned values as ``exception_request`` takes them (None for a value that did
        not parse, so the service's check can still say everything else)."""
        data = getattr(self, "cleaned_data", {})
        scope: dict = {key: data[key] for key, _ in SCOPE_ID_FIELDS if data.get(key)}
        if data.get("tag_key") or data.get("tag_value"):
            scope["tag"] = {"key": data.get("tag_key", ""), "value": data.get("tag_value", "")}
        return {
            "title": data.get("title", ""),
            "rule_ids": data.get("rule_ids") or [],
            "scope": scope,
            "justification": data.get("justification", ""),
            "compensating_controls": data.get("compensating_controls", ""),
            "risk": data.get("risk", ""),
            "risk_reason": data.get("risk_reason", ""),
            "owner": data.get("owner"),
            "expires_on": data.get("expires_on"),
            "ticket_ref": data.get("ticket_ref", ""),
            "confirm_broad": data.get("confirm_broad", False),
        }

    def add_service_errors(self, messages: list[str]) -> None:
        """Each of the service's refusals at its field, but none where the form already says
        what is wrong (a missing title is not said twice)."""
        for message in messages:
            field = SERVICE_FIELDS.get(message.partition(":")[0].strip())
            if field in self.errors:
                continue
            self.add_service_error(message)

    def add_service_error(self, message: str, *, field_only: bool = False) -> None:
        if message.startswith("Scope:"):
            # About the scope as a whole: at the confirmation when that is the way out, else above the form.
            self.add_error("confirm_broad" if "confirm" in message else None, message)
            return
        super().add_service_error(message, field_only=field_only)

    @classmethod
    def initial_from_query(cls, query, *, user) -> dict:
        """Prefill from a link (a failing finding, a credential, a rule's failing list):
        ?rule=<id>&credential=<id>&identity=<id>&source=<id> (each may repeat). The risk starts
        at the rules' highest severity."""
        initial: dict = {"owner": user}
        known = dict(rule_choices())
        rules = [r.strip() for r in query.getlist("rule") if r.strip() in known]
        if rules:
            initial["rule_ids"] = rules
            severity = rules_severity(rules)
            if severity in ExceptionRequest.Risk.values:
                initial["risk"] = severity
        for key, name in SCOPE_ID_FIELDS:
            ids = [n for v in query.getlist(name) if (n := parse_id(v.strip())) is not None]
            if ids:
                initial[key] = ids
        return initial


class CommentForm(ServiceErrorMixin, forms.Form):
    """The comment of an action. Whether it may be empty is the service's to say (it checks who
    may act before it looks at the comment, so a forged post is refused as such)."""

    comment = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, required: bool = True, label: str = "Comment", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["comment"].label = label
        if required:
            self.fields["comment"].widget.attrs["required"] = True


class RenewForm(ServiceErrorMixin, forms.Form):
    expires_on = forms.DateField(label="New expiry", widget=DATE)
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=20000, help_text="Why the exception is still needed."
    )
    compensating_controls = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=20000, help_text="Leave empty to keep the current ones."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_on"].help_text = max_days_help()
