import re

from django import forms

from apps.inventory.models import Source

# The service's messages start with the field they are about ("Role ARN: expected ..."),
# so a refusal can be shown next to that field.
SERVICE_ERROR_FIELDS = {
    "Name": "name",
    "Role ARN": "role_arn",
    "External id": "external_id",
    "Regions": "regions",
    "Vault URL": "vault_url",
    "Schedule": "schedule_minutes",
}


class SourceForm(forms.Form):
    """A source's settings for one kind: AWS fields or the vault URL, never a cloud key.

    Only shapes are checked here; what a valid role ARN, region or vault URL is, is the
    service's (``source_validate``) to say.
    """

    name = forms.CharField(max_length=120)
    role_arn = forms.CharField(label="Role ARN", max_length=2048, help_text="The role keytrail assumes: arn:aws:iam::<12-digit account>:role/<name>.")
    external_id = forms.CharField(label="External id", max_length=1224, required=False, help_text="Optional; required by the role's trust policy if it names one.")
    regions = forms.CharField(max_length=2000, required=False, help_text="Secrets Manager regions, separated by commas or spaces (e.g. eu-west-1 us-east-1).")
    vault_url = forms.CharField(label="Vault URL", max_length=300, help_text="https://<vault-name>.vault.azure.net/")
    schedule_minutes = forms.IntegerField(label="Schedule (minutes)", min_value=1, max_value=10**6, initial=1440,
                                          help_text="Collect at least this often: between 15 minutes and 30 days (43200).")
    enabled = forms.BooleanField(required=False, initial=True, help_text="Disabled sources are not collected, by schedule or by hand.")

    FIELDS_BY_KIND = {
        Source.Kind.AWS_ACCOUNT: ["name", "role_arn", "external_id", "regions", "schedule_minutes"],
        Source.Kind.AZURE_KEY_VAULT: ["name", "vault_url", "schedule_minutes"],
    }

    def __init__(self, *args, kind: str, with_enabled: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        keep = self.FIELDS_BY_KIND[kind] + (["enabled"] if with_enabled else [])
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]

    def clean_regions(self) -> list[str]:
        raw = self.cleaned_data.get("regions", "")
        return [part for part in re.split(r"[\s,]+", raw) if part]

    def add_service_error(self, message: str) -> None:
        """Show a service refusal next to the field it names, or above the form."""
        label = message.split(":", 1)[0]
        field = SERVICE_ERROR_FIELDS.get(label)
        self.add_error(field if field in self.fields else None, message)

    @classmethod
    def initial_for(cls, source: Source) -> dict:
        return {
            "name": source.name,
            "role_arn": source.role_arn,
            "external_id": source.external_id,
            "regions": ", ".join(source.regions or []),
            "vault_url": source.vault_url,
            "schedule_minutes": source.schedule_minutes,
            "enabled": source.enabled,
        }
