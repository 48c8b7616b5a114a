"""Verify a downloaded evidence pack: every file's SHA-256 against the manifest, the pack
hash, and the manifest's Ed25519 signature. Exit 0 when intact; 1 with each difference listed."""

from django.core.management.base import BaseCommand, CommandError

from apps.evidence.manifest import verify_zip


class Command(BaseCommand):
    help = "Verify an evidence pack zip against its signed manifest."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the pack's .zip")
        parser.add_argument("--public-key", default=None, help="hex Ed25519 public key to trust (default: this installation's)")

    def handle(self, *args, file: str, public_key: str | None, **options):
        try:
            open(file, "rb").close()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        report = verify_zip(file, public_key_hex=public_key)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(report.summary()))
            for name, entry in sorted(report.manifest.get("files", {}).items()):
                self.stdout.write(f"  ok  {entry.get('sha256')}  {name}")
            return
        self.stderr.write(report.summary())
        for problem in report.problems:
            self.stderr.write(f"  - {problem}")
        raise SystemExit(1)
