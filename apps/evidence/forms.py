"""Forms for engagements and packs. They parse shapes; the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.conf import settings

from apps.catalog.selectors import requirement_choices
from apps.core.ids import ModelIdsChoiceField
from apps.inventory.selectors import every_source

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class EngagementForm(forms.Form):
    name = forms.CharField(max_length=200)
    period_start = forms.DateField(widget=DATE, label="Audit period starts")
    period_end = forms.DateField(widget=DATE, label="Audit period ends")
    sources = ModelIdsChoiceField(
        queryset=every_source(), required=False, widget=forms.CheckboxSelectMultiple, help_text="None selected: every source."
    )
    requirements = ModelIdsChoiceField(
        queryset=requirement_choices(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None selected: every sub-requirement of 9.2.4 and 9.3.1.",
    )


class PackBuildForm(forms.Form):
    as_of = forms.DateTimeField(
        required=False,
        label="As of (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Leave empty for now. The pack shows the organisation as it stood at this time.",
    )
    sample_size = forms.IntegerField(min_value=1, initial=25, label="Sample size")
    sample_seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        label="Sample seed",
        help_text="Leave empty for a seed fixed by the engagement and the as-of time (a rebuild draws the same sample).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sample_size"].max_value = settings.KEYTRAIL_PACK_SAMPLE_MAX
        self.fields["sample_size"].widget.attrs["max"] = settings.KEYTRAIL_PACK_SAMPLE_MAX


class VerifyUploadForm(forms.Form):
    file = forms.FileField(label="Pack (.zip)")
