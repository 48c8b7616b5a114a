"""gunicorn's configuration: the hooks the master runs from a signal handler import nothing.

``child_exit`` runs inside the master's SIGCHLD handler. When SIGTERM reaches the whole process
group, both workers exit together and the handler runs re-entrantly; a first-time import in it
was then seen half initialised by the second run (ImportError out of the halt, master exit 1:
the production smoke test's ``{'gunicorn': 1}``). The race itself is timing-dependent (about one
stop in 40 here), so this checks its cause in a fresh interpreter: loading the configuration has
already imported what the hooks use, and no hook imports anything when called."""

from __future__ import annotations

import subprocess
import sys

from tests.support.production import ROOT

PROBE = """
import dis, os, runpy, sys, tempfile
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
assert "prometheus_client.multiprocess" not in sys.modules
config = runpy.run_path("config/gunicorn.conf.py")
assert "prometheus_client.multiprocess" in sys.modules, "loading the configuration must import the hooks' modules"
for hook in ("on_starting", "child_exit"):
    imports = [i.argval for i in dis.get_instructions(config[hook]) if i.opname == "IMPORT_NAME"]
    assert not imports, f"{hook} imports {imports} when called (from a signal handler)"
print("ok")
"""


def test_signal_time_hooks_import_nothing_when_called():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
