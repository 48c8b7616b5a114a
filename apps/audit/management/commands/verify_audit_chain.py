from django.core.management.base import BaseCommand, CommandError

from apps.audit.anchor_targets import read_anchor_lines
from apps.audit.checkpoints import PackUnreadable, anchor_from_pack, chain_verify


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain, against every signed checkpoint stored, and optionally against a pack's "
        "anchor, an anchors file and an expected head. Reports every problem; exit 1 when there is one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--expect-head",
            default="",
            help="a head hash recorded elsewhere (HASH or SEQ:HASH, e.g. a pack's audit_extract head): it must still be in the chain",
        )
        parser.add_argument(
            "--against-pack",
            action="append",
            default=[],
            metavar="PACK.zip",
            help="an evidence pack: its signed audit anchor and every event of its audit extract must match the chain (repeatable)",
        )
        parser.add_argument(
            "--anchors",
            action="append",
            default=[],
            metavar="FILE.jsonl",
            help="a file of anchors (one JSON per line, as KEYTRAIL_AUDIT_ANCHOR_TARGET=file://... writes them) (repeatable)",
        )

    def handle(self, *args, **options):
        anchors: list[dict] = []
        expected: dict[int, str] = {}
        for path in options["against_pack"]:
            try:
                anchor, extract = anchor_from_pack(path)
            except PackUnreadable as exc:
                raise CommandError(f"{path}: {exc}") from exc
            anchors.append({"label": f"pack {anchor.get('reference') or path}", "anchor": anchor})
            expected.update({e["seq"]: e["hash"] for e in extract if isinstance(e["seq"], int)})
        for path in options["anchors"]:
            try:
                anchors.extend(read_anchor_lines(path))
            except OSError as exc:
                raise CommandError(f"{path}: {exc}") from exc
        report = chain_verify(anchors=anchors, expect_head=options["expect_head"] or None, expected_events=expected or None)
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"- {problem}")
            raise CommandError(f"audit chain BROKEN ({len(report.problems)} problem(s); {report.checked} events link): {report.reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit chain intact: {report.checked} events, head #{report.head_seq} {report.head_hash}; "
                f"matches {report.anchors_checked} signed anchor(s)"
            )
        )
