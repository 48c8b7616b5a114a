from django import forms

from apps.notifications.notices import EVENTS


class EndpointForm(forms.Form):
    """An endpoint's name, address and events. Whether the address is acceptable (scheme,
    public host) is the service's to say, with its reason."""

    name = forms.CharField(max_length=100, help_text="Who receives it, e.g. “SecOps chat” or “GRC tickets”.")
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="https:// (or http://) address of the receiver; it must resolve to a public address. Redirects are not followed.",
    )
    events = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {description}") for name, description in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text='The events sent to this endpoint (the payload\'s "event").',
    )


class EndpointEditForm(EndpointForm):
    active = forms.BooleanField(required=False, help_text="Inactive endpoints receive nothing; pending retries to them are given up.")
