import re

from django import forms

from apps.connectors.base import SettingField
from apps.connectors.registry import source_spec
from apps.inventory.models import Source

# The service's messages start with the field they are about ("Role ARN: expected ..."),
# so a refusal can be shown next to that field. A kind's own settings add their labels.
SERVICE_ERROR_FIELDS = {
    "Name": "name",
    "Schedule": "schedule_minutes",
}


def _setting_field(setting: SettingField) -> forms.CharField:
    return forms.CharField(label=setting.label, max_length=setting.max_length, required=setting.required, help_text=setting.help_text)


class SourceForm(forms.Form):
    """A source's settings for one kind, as its connectors describe them (a role ARN, a
    vault URL...: never a cloud key).

    Only shapes are checked here; what a valid role ARN, region or vault URL is, is the
    service's (``source_validate``, through the kind's spec) to say.
    """

    name = forms.CharField(max_length=120)
    schedule_minutes = forms.IntegerField(
        label="Schedule (minutes)",
        min_value=1,
        max_value=10**6,
        initial=1440,
        help_text="Collect at least this often: between 15 minutes and 30 days (43200).",
    )
    enabled = forms.BooleanField(required=False, initial=True, help_text="Disabled sources are not collected, by schedule or by hand.")

    def __init__(self, *args, kind: str, with_enabled: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.settings = [setting for setting in source_spec(kind).fields if not setting.derived]
        fields = {"name": self.fields["name"]}
        fields.update((setting.name, _setting_field(setting)) for setting in self.settings)
        fields["schedule_minutes"] = self.fields["schedule_minutes"]
        if with_enabled:
            fields["enabled"] = self.fields["enabled"]
        self.fields = fields

    def clean(self) -> dict:
        cleaned = super().clean()
        for setting in self.settings:
            if setting.many and setting.name in cleaned:
                cleaned[setting.name] = [part for part in re.split(r"[\s,]+", cleaned[setting.name] or "") if part]
        return cleaned

    def add_service_error(self, message: str) -> None:
        """Show a service refusal next to the field it names, or above the form."""
        label = message.split(":", 1)[0]
        labels = {**SERVICE_ERROR_FIELDS, **{setting.label: setting.name for setting in self.settings}}
        field = labels.get(label)
        self.add_error(field if field in self.fields else None, message)

    @classmethod
    def initial_for(cls, source: Source) -> dict:
        initial = {"name": source.name, "schedule_minutes": source.schedule_minutes, "enabled": source.enabled}
        for setting in source_spec(source.kind).fields:
            if setting.derived:
                continue
            value = getattr(source, setting.name)
            initial[setting.name] = ", ".join(value or []) if setting.many else value
        return initial
