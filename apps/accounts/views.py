"""Sign-in's second step: TOTP enrolment and verification."""

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.accounts import mfa
from apps.core.redirects import safe_next


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        label="Six-digit code",
        error_messages={"invalid": "Enter the six digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_token(self) -> str:
        return self.cleaned_data["token"].strip()


def _next(request) -> str:
    return safe_next(request, "/")


@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request):
    """Enrol an authenticator app: scan the code, confirm with a first code."""
    if mfa.has_device(request.user):
        return render(request, "registration/mfa_status.html", {"verified": request.user.is_verified()})
    device = mfa.pending_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.enrol(request, device, form.cleaned_data["token"]):
            return redirect(_next(request))
        form.add_error("token", "That code does not match. Check the time on your phone and try the current code.")
    return render(
        request,
        "registration/mfa_setup.html",
        {
            "form": form,
            "qr_svg": mfa.qr_svg(device),
            "secret": mfa.secret_base32(device),
            "required": mfa.required_by_role(request.user),
            "next": _next(request),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def mfa_verify(request):
    """The second step of sign-in for a user with an enrolled device."""
    if not mfa.has_device(request.user):
        return redirect(f"{reverse('mfa_setup')}?{urlencode({'next': _next(request)})}")
    if request.user.is_verified():
        return redirect(_next(request))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.verify(request, form.cleaned_data["token"]):
            return redirect(_next(request))
        form.add_error("token", "That code is not valid (or too many attempts: wait a little and use a fresh code).")
    return render(request, "registration/mfa_verify.html", {"form": form, "next": _next(request)})
