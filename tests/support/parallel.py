"""Run the suite in parallel by default (pytest-xdist), loaded with ``-p tests.support.parallel``
from ``[tool.pytest.ini_options] addopts``.

The flags are added here rather than written in ``addopts`` so that ``-p no:xdist`` still works
(pytest refuses an ``-n`` in ``addopts`` once the plugin that defines it is blocked), and so that an
explicit ``-n``/``--numprocesses`` on the command line (``-n 0`` for one test, serially) wins.
"""

from __future__ import annotations

# One process per core, at most four (each has its own test database, Redis database and, for
# the browser tests, Chromium). loadgroup: modules marked @pytest.mark.xdist_group stay in
# one worker (their module-scoped fixtures are expensive); everything else is balanced test by test.
PARALLEL = ["-n", "auto", "--maxprocesses=4"]
DISTRIBUTION = ["--dist", "loadgroup"]


def _given(args: list[str], *names: str) -> bool:
    return any(arg == name or arg.startswith(name) for arg in args for name in names)


def pytest_load_initial_conftests(early_config, parser, args):
    if not early_config.pluginmanager.has_plugin("xdist"):
        return  # -p no:xdist: serial
    if not _given(args, "-n", "--numprocesses"):
        args[:] = [*args, *PARALLEL]
    if not _given(args, "--dist", "-d"):
        args[:] = [*args, *DISTRIBUTION]
