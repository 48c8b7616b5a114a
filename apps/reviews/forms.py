from django import forms

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.selectors import active_users_with_role
from apps.connectors.registry import credential_kind_choices
from apps.core.ids import ModelIdsChoiceField, form_id
from apps.inventory.models import Source
from apps.reviews.models import (
    CampaignTemplate,
    JustificationRule,
    ReviewItem,
    UndecidedRule,
)


def _active_users():
    return User.objects.filter(is_active=True).order_by("username")


class CampaignSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    sources = ModelIdsChoiceField(
        queryset=Source.objects.filter(enabled=True), required=False, help_text="None selected: every enabled source."
    )
    credential_types = forms.MultipleChoiceField(choices=credential_kind_choices, required=False, help_text="None selected: every type.")
    privileged_only = forms.BooleanField(required=False, label="Privileged identities only")
    non_human_only = forms.BooleanField(required=False, label="Non-human credentials only (service identities and secrets)")
    tag_key = forms.CharField(max_length=128, required=False, label="Tag key")
    tag_value = forms.CharField(max_length=256, required=False, label="Tag value")
    fallback_reviewer = forms.ModelChoiceField(
        queryset=_active_users(), help_text="Reviews items whose owner is unknown, or who would review their own identity."
    )
    justification_rule = forms.ChoiceField(choices=JustificationRule.choices, label="Justification")
    undecided_rule = forms.ChoiceField(choices=UndecidedRule.choices, label="Items undecided at the deadline")

    def scope(self) -> dict:
        d = self.cleaned_data
        scope = {
            "source_ids": [s.pk for s in d["sources"]],
            "credential_types": d["credential_types"],
            "privileged_only": d["privileged_only"],
            "non_human_only": d["non_human_only"],
        }
        if d["tag_key"] or d["tag_value"]:
            scope["tag"] = {"key": d["tag_key"], "value": d["tag_value"]}
        return scope

    def settings_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "scope": self.scope(),
            "fallback_reviewer": d["fallback_reviewer"],
            "justification_rule": d["justification_rule"],
            "undecided_rule": d["undecided_rule"],
        }


class CampaignForm(CampaignSettingsForm):
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class TemplateForm(CampaignSettingsForm):
    recurrence = forms.ChoiceField(choices=CampaignTemplate.Recurrence.choices)
    duration_days = forms.IntegerField(min_value=1, max_value=365, initial=21, label="Days to decide")


class DecideForm(forms.Form):
    items = forms.TypedMultipleChoiceField(coerce=form_id, choices=[], error_messages={"required": "Select at least one item."})
    decision = forms.ChoiceField(
        choices=ReviewItem.Decision.choices, error_messages={"required": "choose a decision (keep, revoke or rotate)."}
    )
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)
    confirm_keep = forms.BooleanField(required=False)

    def __init__(self, data=None, *args, **kwargs):
        # A row's own button ("row" = "<item id>:<decision>") decides that item alone, with the
        # row's justification when given: the ticked boxes and the bulk bar are ignored.
        if data is not None and data.get("row"):
            item, _, decision = str(data["row"]).partition(":")
            data = data.copy()
            data.setlist("items", [item])
            data["decision"] = decision
            data["justification"] = data.get(f"justification_{item}") or ""
        super().__init__(data, *args, **kwargs)
        # Any id is accepted here; the service checks each belongs to the campaign and the actor.
        self.fields["items"].valid_value = lambda value: True


class ReassignForm(forms.Form):
    items = forms.TypedMultipleChoiceField(coerce=form_id, choices=[], required=False)
    from_reviewer = forms.ModelChoiceField(queryset=User.objects.all(), required=False)
    # Only reviewers are offered (and accepted); the service checks it again.
    to_reviewer = forms.ModelChoiceField(queryset=active_users_with_role(Role.REVIEWER))
    note = forms.CharField(max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].valid_value = lambda value: True


class RemindForm(forms.Form):
    reviewer = forms.ModelChoiceField(queryset=User.objects.all())
    escalate = forms.BooleanField(required=False)


class CommentForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)
