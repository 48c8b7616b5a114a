"""Reading and validating a catalog file. Pure: no database here (see services.py)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEFAULT_CATALOG = Path(__file__).resolve().parent / "data" / "iso27017_sai.yaml"
MAX_FILE_BYTES = 2 * 1024 * 1024

_REF = r"^[0-9]+(\.[0-9]+)+$"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["catalog", "version", "title", "clauses", "requirements"],
    "properties": {
        "catalog": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{1,63}$"},
        "version": {"type": "string", "pattern": r"^[0-9A-Za-z.+-]{1,32}$"},
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "description": {"type": "string"},
        "clauses": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ref", "title"],
                "properties": {
                    "ref": {"type": "string", "pattern": _REF, "maxLength": 16},
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "summary": {"type": "string"},
                },
            },
        },
        "requirements": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ref", "clause", "topic", "title", "statement", "evidence", "rules", "automatable"],
                "properties": {
                    "ref": {"type": "string", "pattern": _REF, "maxLength": 16},
                    "clause": {"type": "string", "pattern": _REF},
                    "topic": {"type": "string", "pattern": r"^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 64},
                    "title": {"type": "string", "minLength": 1, "maxLength": 120},
                    "statement": {"type": "string", "minLength": 10},
                    "guidance": {"type": "string"},
                    "evidence": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    "rules": {"type": "array", "items": {"type": "string", "pattern": r"^[a-z0-9]+(-[a-z0-9]+)*$"}, "uniqueItems": True},
                    "automatable": {"type": "boolean"},
                    # Which part of the requirement its rules prove, and which part rests on manual
                    # evidence (docs/adr/0016-rules-and-manual-evidence.md).
                    "rules_cover": {"type": "string", "maxLength": 1000},
                    "manual_evidence_for": {"type": "string", "maxLength": 1000},
                },
            },
        },
    },
}


class CatalogError(Exception):
    """The catalog file is invalid; the message says where and why."""


@dataclass(frozen=True)
class CatalogData:
    catalog_id: str
    version: str
    title: str
    description: str
    sha256: str
    clauses: list[dict[str, Any]]
    requirements: list[dict[str, Any]]


def _where(error: jsonschema.ValidationError, doc: dict) -> str:
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "requirements" and isinstance(path[1], int):
        reqs = doc.get("requirements") or []
        ref = reqs[path[1]].get("ref", "?") if path[1] < len(reqs) and isinstance(reqs[path[1]], dict) else "?"
        field = ".".join(str(p) for p in path[2:]) or "(the entry)"
        return f"requirement #{path[1] + 1} (ref {ref}), field {field}"
    return "field " + (".".join(str(p) for p in path) or "(top level)")


def parse_catalog(raw: bytes) -> CatalogData:
    """Parse and validate catalog bytes. Raises CatalogError naming the field and requirement."""
    if len(raw) > MAX_FILE_BYTES:
        raise CatalogError(f"catalog file is {len(raw)} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"catalog file is not UTF-8: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"catalog file is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise CatalogError("catalog file must be a mapping with catalog, version, title, clauses and requirements")
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise CatalogError(f"invalid catalog: {_where(first, doc)}: {first.message}{more}")

    clause_refs = [c["ref"] for c in doc["clauses"]]
    _no_duplicates("clause ref", clause_refs)
    _no_duplicates("requirement ref", [r["ref"] for r in doc["requirements"]])
    _no_duplicates("requirement topic", [r["topic"] for r in doc["requirements"]])
    for req in doc["requirements"]:
        if req["clause"] not in clause_refs:
            raise CatalogError(f"invalid catalog: requirement {req['ref']}: clause {req['clause']!r} is not declared under clauses")
        if not req["ref"].startswith(req["clause"] + "."):
            raise CatalogError(f"invalid catalog: requirement {req['ref']}: ref must start with its clause {req['clause']}.")
        if req["automatable"] != bool(req["rules"]):
            raise CatalogError(f"invalid catalog: requirement {req['ref']}: automatable must be true exactly when rules are listed")
        _check_coverage(req)
    return CatalogData(
        catalog_id=doc["catalog"],
        version=doc["version"],
        title=doc["title"],
        description=doc.get("description", ""),
        sha256=hashlib.sha256(raw).hexdigest(),
        clauses=doc["clauses"],
        requirements=doc["requirements"],
    )


def _check_coverage(req: dict[str, Any]) -> None:
    """A requirement with rules says what they prove (``rules_cover``) and what is left to manual
    evidence (``manual_evidence_for``, empty when the rules prove all of it); one without rules
    rests wholly on manual evidence and may not claim a rule covers anything."""
    cover = req.get("rules_cover")
    manual = req.get("manual_evidence_for")
    if req["rules"]:
        if not (cover or "").strip():
            raise CatalogError(f"invalid catalog: requirement {req['ref']}: rules_cover must say which part its rules prove")
        if manual is None:
            raise CatalogError(
                f"invalid catalog: requirement {req['ref']}: manual_evidence_for must say which part rests on manual evidence "
                '("" when the rules prove all of it)'
            )
    elif (cover or "").strip():
        raise CatalogError(f"invalid catalog: requirement {req['ref']}: rules_cover is set but no rule is listed")


def coverage_of(rule_ids: list[str], manual_evidence_for: str) -> str:
    """``rules`` (rules prove all of it), ``partial`` (rules and manual evidence) or ``manual``."""
    if not rule_ids:
        return "manual"
    return "partial" if manual_evidence_for.strip() else "rules"


def _no_duplicates(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise CatalogError(f"invalid catalog: duplicate {what} {value!r}")
        seen.add(value)


def read_catalog(path: Path | str = DEFAULT_CATALOG) -> CatalogData:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {path}: {exc.strerror}") from exc
    return parse_catalog(raw)
