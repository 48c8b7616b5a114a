"""Turning gathered data into the pack's files, their manifest and the zip.

Used by the build service (for a Pack row) and by ``bench_pack`` (timed, no row). Each stage
is timed; ``progress(percent, stage)`` is called between stages.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from apps.evidence.manifest import MANIFEST, build_manifest, sha256_file
from apps.evidence.packdata import PackData
from apps.evidence.renderers.jsondata import json_bytes, render_json
from apps.evidence.renderers.oscal import render_oscal
from apps.evidence.renderers.pdf import render_pdf
from apps.evidence.renderers.xlsx import render_xlsx

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "pack.schema.json"


class Renderer(Protocol):
    def __call__(self, data: PackData, path: Path, /) -> None: ...


# name in the zip -> (renderer, progress after it)
RENDERERS: list[tuple[str, Renderer, int]] = [
    ("pack.json", render_json, 55),
    ("oscal-assessment-results.json", render_oscal, 60),
    ("pack.xlsx", render_xlsx, 75),
]


@dataclass
class BuiltFiles:
    zip_path: Path
    manifest: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def build_files(*, data: PackData, workdir: Path, meta: dict[str, Any], progress: Callable[[int, str], None] | None = None) -> BuiltFiles:
    """Render every file of the pack into ``workdir``, write manifest.json, zip them; returns
    the zip's path, the manifest, and each stage's time and each file's size."""
    step: Callable[[int, str], None] = progress or (lambda percent, stage: None)
    timings: dict[str, float] = {}
    paths: dict[str, Path] = {}
    for name, render, percent in RENDERERS:
        t0 = time.perf_counter()
        paths[name] = workdir / name
        render(data, paths[name])
        timings[name] = round(time.perf_counter() - t0, 3)
        step(percent, f"rendered {name}")
    t0 = time.perf_counter()
    paths["pack.pdf"] = workdir / "pack.pdf"
    render_pdf(data, paths["pack.pdf"], pack_id=meta["pack_id"], built_at=meta["built_at"])
    timings["pack.pdf"] = round(time.perf_counter() - t0, 3)
    step(92, "rendered pack.pdf")
    paths["pack.schema.json"] = SCHEMA_FILE

    t0 = time.perf_counter()
    sizes: dict[str, int] = {name: path.stat().st_size for name, path in sorted(paths.items())}
    files = {name: {"sha256": sha256_file(path), "size": sizes[name]} for name, path in sorted(paths.items())}
    manifest = build_manifest(files=files, meta=meta)
    manifest_bytes = json_bytes(manifest)
    zip_path = workdir / f"keytrail-pack-{meta['pack_id']}.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, path in sorted(paths.items()):
            zf.write(path, arcname=name)
        zf.writestr(MANIFEST, manifest_bytes)
    timings["manifest+zip"] = round(time.perf_counter() - t0, 3)
    step(97, "zipped")
    sizes |= {MANIFEST: len(manifest_bytes), "zip": zip_path.stat().st_size}
    return BuiltFiles(zip_path=zip_path, manifest=manifest, timings=timings, sizes=sizes)
