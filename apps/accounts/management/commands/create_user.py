"""Create a keytrail user holding one role (the first GRC lead of a new installation, say)."""

import getpass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.roles import Role
from apps.accounts.services import user_create


class Command(BaseCommand):
    help = "Create a user with one role; the password is read from --password-file or asked for (never an argument)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", default="")
        parser.add_argument("--password-file", type=Path, help="a file holding the password (first line); e.g. a mounted secret")

    def handle(self, *args, username: str, role: str, email: str, password_file: Path | None, **options):
        if get_user_model().objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        if password_file is not None:
            try:
                password = password_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError, UnicodeDecodeError) as exc:
                raise CommandError(f"cannot read a password from {password_file}: {type(exc).__name__}") from exc
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the two passwords differ")
        try:
            validate_password(password, user=get_user_model()(username=username, email=email))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        with transaction.atomic():
            user_create(username=username, password=password, role=role, email=email)
        self.stdout.write(f"created {username} ({role})")
