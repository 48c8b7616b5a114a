from django import forms

from apps.accounts.models import User


class ShareForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"))
    permissions = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, permissions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = [(p, p.replace("_", " ")) for p in permissions]
        self.fields["permissions"].initial = [permissions[0]]
