"""The exception register's forms: a request, a renewal, and the comment of an action.

The forms parse shapes only (ids are whole numbers, a date is a date). What a valid
exception is (a justification, an expiry within the maximum for its risk, a scope that is
not empty unless confirmed) is the service's to say; its refusal is shown next to the field
it names (``add_service_error``).
"""

from __future__ import annotations

from django import forms
from django.conf import settings

from apps.accounts.models import User
from apps.core.ids import parse_id
from apps.exceptions_register.models import ExceptionRequest
from apps.exceptions_register.selectors import rule_choices

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# The prefix of each service message ("Expiry: …") -> the field it is about.
SERVICE_FIELDS = {
    "Title": "title",
    "Rules": "rule_ids",
    "Justification": "justification",
    "Compensating controls": "compensating_controls",
    "Risk": "risk",
    "Expiry": "expires_on",
    "Owner": "owner",
    "Comment": "comment",
}
SCOPE_ID_FIELDS = (("credential_ids", "credential"), ("identity_ids", "identity"), ("source_ids", "source"))


def max_days_help() -> str:
    limits = settings.KEYTRAIL_EXCEPTION_MAX_DAYS
    parts = [f"{label.lower()} {limits[value]} days" for value, label in ExceptionRequest.Risk.choices if value in limits]
    two = [label.lower() for value, label in ExceptionRequest.Risk.choices if value in settings.KEYTRAIL_EXCEPTION_TWO_APPROVALS]
    text = "The last day the exception applies. At most, from today: " + ", ".join(parts) + "."
    if two:
        text += f" A {' or '.join(two)}-risk exception needs two approvers."
    return text


def _ids(text: str, label: str) -> list[int]:
    ids = []
    for part in text.replace(";", ",").replace(" ", ",").split(","):
        part = part.strip().lstrip("#")
        if not part:
            continue
        number = parse_id(part)
        if number is None:
            raise forms.ValidationError(f"Not a {label} id: “{part[:40]}”. Give keytrail's numbers, separated by commas.")
        ids.append(number)
    return list(dict.fromkeys(ids))


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
    credential_ids = forms.CharField(
        label="Credential ids",
        required=False,
        max_length=2000,
        help_text="keytrail's ids of the credentials covered, comma-separated (a rotated key is a new credential).",
    )
    identity_ids = forms.CharField(
        label="Identity ids", required=False, max_length=2000, help_text="Covers each identity's own verdicts and those of its credentials."
    )
    source_ids = forms.CharField(
        label="Source ids", required=False, max_length=2000, help_text="Covers every subject collected from these sources."
    )
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
    risk = forms.ChoiceField(choices=ExceptionRequest.Risk.choices, initial=ExceptionRequest.Risk.MEDIUM)
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
        return [self[name] for name in ("credential_ids", "identity_ids", "source_ids", "tag_key", "tag_value", "confirm_broad")]

    @property
    def main_fields(self):
        return [self[name] for name in ("title", "rule_ids")]

    @property
    def reason_fields(self):
        return [self[name] for name in ("justification", "compensating_controls", "risk", "owner", "expires_on", "ticket_ref")]

    def clean_credential_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("credential_ids", ""), "credential")

    def clean_identity_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("identity_ids", ""), "identity")

    def clean_source_ids(self) -> list[int]:
        return _ids(self.cleaned_data.get("source_ids", ""), "source")

    def service_kwargs(self) -> dict:
        """The cleaned values as ``exception_request`` takes them."""
        data = self.cleaned_data
        scope: dict = {key: data[key] for key, _ in SCOPE_ID_FIELDS if data.get(key)}
        if data.get("tag_key") or data.get("tag_value"):
            scope["tag"] = {"key": data.get("tag_key", ""), "value": data.get("tag_value", "")}
        return {
            "title": data["title"],
            "rule_ids": data["rule_ids"],
            "scope": scope,
            "justification": data["justification"],
            "compensating_controls": data["compensating_controls"],
            "risk": data["risk"],
            "owner": data["owner"],
            "expires_on": data["expires_on"],
            "ticket_ref": data.get("ticket_ref", ""),
            "confirm_broad": data.get("confirm_broad", False),
        }

    def add_service_error(self, message: str, *, field_only: bool = False) -> None:
        if message.startswith("Scope:"):
            # About the scope as a whole: at the confirmation when that is the way out, else above the form.
            self.add_error("confirm_broad" if "confirm" in message else None, message)
            return
        super().add_service_error(message, field_only=field_only)

    @classmethod
    def initial_from_query(cls, query, *, user) -> dict:
        """Prefill from a failing finding's link: ?rule=<id>&credential=<id>&identity=<id>&source=<id>."""
        initial: dict = {"owner": user}
        rule = query.get("rule", "").strip()
        if rule in dict(rule_choices()):
            initial["rule_ids"] = [rule]
        for key, name in SCOPE_ID_FIELDS:
            value = query.get(name, "").strip()
            if parse_id(value) is not None:
                initial[key] = value
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
