"""Development tooling apart: ``apps.devtools`` (the demo, the benchmarks, the simulated
clouds) is installed by the local (demo) and test settings only, never by production, and no
product module imports it."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVTOOLS = "apps.devtools"
# The only files outside apps/devtools/ allowed to name it: the settings that install it.
INSTALLERS = {ROOT / "config" / "settings" / "local.py", ROOT / "config" / "settings" / "test.py"}


def _installed_apps(settings_module: str, **env: str) -> list[str]:
    """INSTALLED_APPS of ``settings_module`` imported in a fresh interpreter with only the
    process's non-keytrail environment plus ``env`` (the module is never Django's active settings)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYTRAIL_", "DATABASE_URL"))}
    code = f"import json, {settings_module} as s; print(json.dumps(s.INSTALLED_APPS))"
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_settings_do_not_install_devtools():
    apps = _installed_apps(
        "config.settings.production", DJANGO_SECRET_KEY=os.urandom(32).hex(), KEYTRAIL_PACK_SIGNING_KEY=os.urandom(32).hex()
    )
    assert "apps.core" in apps  # the module was really read
    assert not [app for app in apps if app.startswith(DEVTOOLS)]


def test_base_settings_do_not_install_devtools():
    apps = _installed_apps("config.settings.base")
    assert "apps.core" in apps
    assert not [app for app in apps if app.startswith(DEVTOOLS)]


@pytest.mark.parametrize("settings_module", ["config.settings.local", "config.settings.test"])
def test_demo_and_test_settings_install_devtools(settings_module):
    assert DEVTOOLS in _installed_apps(settings_module)


def test_the_running_tests_have_devtools_installed(settings):
    assert DEVTOOLS in settings.INSTALLED_APPS


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _devtools_references(path: Path) -> list[str]:
    """Every import of apps.devtools in ``path`` (at any depth: inside functions too, relative
    imports resolved) and every string naming it (a dotted path imported at run time)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value.replace("/", ".")]
        for name in names:
            if name == DEVTOOLS or name.startswith(DEVTOOLS + "."):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
                break
    return found


def test_no_product_module_imports_devtools():
    product = [p for p in (ROOT / "apps").rglob("*.py") if (ROOT / "apps" / "devtools") not in p.parents]
    product += [p for p in (ROOT / "config").rglob("*.py") if p not in INSTALLERS]
    assert len(product) > 100  # the scan really ran over the apps
    offenders = [ref for path in sorted(product) for ref in _devtools_references(path)]
    assert offenders == []
