"""Multi-factor sign-in (TOTP, django-otp): who must use it and how a session gets verified.

A user must verify a TOTP code after their password when their role is listed in
``KEYTRAIL_MFA_REQUIRED_ROLES`` (production: GRC leads and approvers) or when they have
enrolled a device of their own accord. Until then the session reaches only the enrolment
and verification pages and sign-out (see ``MFARequiredMiddleware``).
"""

from __future__ import annotations

from base64 import b32encode
from io import BytesIO

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.audit import events
from apps.core.permissions import user_roles

DEVICE_NAME = "Authenticator app"


def mfa_required(user) -> bool:
    """Whether ``user`` must pass a second factor before using keytrail."""
    if not getattr(user, "is_authenticated", False):
        return False
    return required_by_role(user) or has_device(user)


def required_by_role(user) -> bool:
    required = set(settings.KEYTRAIL_MFA_REQUIRED_ROLES)
    return bool(required) and bool(required & user_roles(user))


def has_device(user) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first visit, reused until confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def secret_base32(device: TOTPDevice) -> str:
    """The shared secret as authenticator apps expect it when typed in by hand."""
    return b32encode(device.bin_key).decode()


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (no image request, no network)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = BytesIO()
    image.save(out)
    return out.getvalue().decode()


def enrol(request, device: TOTPDevice, token: str) -> bool:
    """Confirm ``device`` with a first code; on success the session is verified."""
    if not device.verify_token(token):
        return False
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
        events.mfa_enrolled(user=device.user, device_name=device.name)
    django_otp.login(request, device)
    return True


def verify(request, token: str) -> bool:
    """Check a code against the user's confirmed devices (django-otp throttles repeated failures)."""
    device = django_otp.match_token(request.user, token)
    if device is None:
        events.mfa_failed(user=request.user)
        return False
    django_otp.login(request, device)
    events.mfa_verified(user=request.user)
    return True


def reset(*, actor, user) -> int:
    """Remove every device of ``user`` (lost phone); they enrol again at next sign-in."""
    with transaction.atomic():
        count, _ = TOTPDevice.objects.filter(user=user).delete()
        events.mfa_reset(actor=actor, user=user)
    return count
