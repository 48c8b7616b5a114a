import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone

from apps.api.models import ApiToken


class TokenForm(forms.Form):
    """A token's name, scope and last day. What is allowed (the expiry limit) is the service's to say."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “ticketing sync”.")
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ, help_text="Read only unless the script must change something."
    )
    expires_on = forms.DateField(label="Expires on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = settings.KEYTRAIL_API_TOKEN_MAX_DAYS
        self.fields[
            "expires_on"
        ].help_text = f"Mandatory; at most {days} days from today. The token stops working at the end of that day (UTC)."
        self.fields["expires_on"].initial = timezone.now().date() + dt.timedelta(days=min(30, days))

    def expires_at(self) -> dt.datetime:
        """The end of the chosen day in UTC, capped at the maximum lifetime (so the last day is usable up to then)."""
        from apps.api.services import max_expiry

        day = self.cleaned_data["expires_on"]
        end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
        limit = max_expiry()
        return limit if day == limit.date() and end > limit else end
