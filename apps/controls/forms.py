import re

from django import forms

from apps.accounts.models import User
from apps.catalog.models import Requirement
from apps.controls.models import Control
from apps.core.ids import ModelIdsChoiceField

_RULE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class RequirementChoiceField(ModelIdsChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.ref} — {obj.title}"


class ControlForm(forms.Form):
    title = forms.CharField(max_length=200)
    requirements = RequirementChoiceField(
        queryset=Requirement.objects.filter(retired_in__isnull=True).order_by("position"),
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text="The catalog sub-requirements this control implements.",
    )
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"))
    narrative = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=20000)
    implementation_status = forms.ChoiceField(choices=Control.Status.choices)
    test_frequency = forms.ChoiceField(choices=Control.Frequency.choices)
    rule_ids = forms.CharField(
        required=False,
        max_length=2000,
        help_text="Automated rules that test this control, comma-separated (e.g. iam-key-rotation-age).",
    )

    def clean_rule_ids(self) -> list[str]:
        raw = self.cleaned_data.get("rule_ids", "")
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        bad = [i for i in ids if not _RULE_ID.match(i)]
        if bad:
            raise forms.ValidationError(f"Not a rule id: {', '.join(bad[:5])}. Use lowercase words joined by hyphens.")
        return list(dict.fromkeys(ids))

    @classmethod
    def initial_for(cls, control: Control) -> dict:
        return {
            "title": control.title,
            "requirements": list(control.requirements.all()),
            "owner": control.owner,
            "narrative": control.narrative,
            "implementation_status": control.implementation_status,
            "test_frequency": control.test_frequency,
            "rule_ids": ", ".join(control.rule_ids or []),
        }


class EvidenceForm(forms.Form):
    file = forms.FileField(help_text="PDF, image, CSV, text, JSON, XLSX or DOCX.")
    effective_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="The date this evidence speaks for.")
    description = forms.CharField(max_length=500, required=False)
