"""The layout rules that import-linter cannot express (docs/adr/0004-layers.md).

import-linter (``lint-imports``, run by the test command) enforces which app may import which.
These tests read every module's syntax tree — imports inside functions included — for the
rest: no reaching into another app's private names, no ORM in connectors and rules, modules a
maintainer can read in one sitting, and test helpers shared through fixture modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "apps"
TESTS = ROOT / "tests"
MAX_LINES = 500
# Not product code: development tooling (never installed in production) and generated migrations.
NOT_PRODUCT = ("devtools", "simulators", "migrations")
CHOICES = {"TextChoices", "IntegerChoices", "Choices"}


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # dotted
    tree: ast.Module

    @property
    def app(self) -> str:
        parts = self.name.split(".")
        return parts[1] if parts[0] == "apps" and len(parts) > 1 else parts[0]


def _modules(base: Path) -> Iterator[Module]:
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield Module(path, ".".join(parts), ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))


def _product_modules() -> list[Module]:
    return [m for m in _modules(APPS) if not set(m.name.split(".")) & set(NOT_PRODUCT)]


def _imports(module: Module) -> Iterator[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import, nested ones too."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _app_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else None


def test_no_module_reaches_into_another_apps_private_names():
    """``from apps.x.y import _helper``, ``apps.x._private`` modules and ``y._helper`` through an
    imported module of another app are all refused: make it public in its owner, or move it to
    ``apps.core`` if it is foundational."""
    offences = []
    for module in _modules(APPS):
        foreign_aliases: dict[str, str] = {}
        for line, imported, name in _imports(module):
            app = _app_of(imported)
            if app is None or app == module.app:
                continue
            dotted = imported + (f".{name}" if name else "")
            if any(_is_private(part) for part in dotted.split(".")):
                offences.append(f"{module.path.relative_to(ROOT)}:{line} imports {dotted}")
            if name is not None:
                foreign_aliases[name] = dotted
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in foreign_aliases
                and _is_private(node.attr)
            ):
                offences.append(f"{module.path.relative_to(ROOT)}:{node.lineno} uses {foreign_aliases[node.value.id]}.{node.attr}")
    assert not offences, "private names of another app (make them public in their owner):\n" + "\n".join(offences)


@pytest.mark.parametrize("package", ["apps.connectors", "apps.evaluation.rules"])
def test_connectors_and_rules_never_touch_the_orm(package):
    """Connectors return dataclasses and rules judge facts: neither imports the ORM or a model."""
    offences = []
    for module in _product_modules():
        if not (module.name == package or module.name.startswith(package + ".")):
            continue
        for line, imported, name in _imports(module):
            dotted = imported + (f".{name}" if name else "")
            if name in CHOICES:  # Django's enum types name a vocabulary; they touch no database
                continue
            if dotted.startswith("django.db") or (dotted.startswith("apps.") and ".models." in f"{dotted}."):
                offences.append(f"{module.path.relative_to(ROOT)}:{line} imports {dotted}")
    assert not offences, f"{package} must stay ORM-free:\n" + "\n".join(offences)


def test_every_product_module_reads_in_one_sitting():
    too_long = []
    for module in _product_modules():
        lines = len(module.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            too_long.append(f"{module.path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, f"split these by topic (at most {MAX_LINES} lines):\n" + "\n".join(too_long)


def test_tests_share_helpers_through_fixture_modules_not_other_test_files():
    """A test file imports helpers from ``tests/support`` or ``tests/factories``; fixtures come
    from conftest by name, never by import from a conftest or another test file."""
    offences = []
    for module in _modules(TESTS):
        for line, imported, name in _imports(module):
            dotted = imported + (f".{name}" if name else "")
            parts = dotted.split(".")
            if parts[0] == "tests" and any(p.startswith("test_") or p == "conftest" for p in parts[1:]):
                offences.append(f"{module.path.relative_to(ROOT)}:{line} imports {dotted}")
    assert not offences, "move shared test helpers to tests/support/:\n" + "\n".join(offences)


def test_the_checks_above_read_the_whole_tree():
    """Guards the guards: the scans see the product's apps and the tests (a wrong ROOT would
    make every check above pass on nothing)."""
    apps = {m.app for m in _product_modules()}
    assert {
        "core",
        "audit",
        "accounts",
        "catalog",
        "controls",
        "connectors",
        "inventory",
        "evaluation",
        "exceptions_register",
        "reviews",
        "evidence",
        "api",
    } <= apps
    assert sum(1 for _ in _modules(TESTS)) > 50
