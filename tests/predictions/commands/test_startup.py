"""`manage.py <command> --help` starts fast: Django's start-up and the commands load no numerical library.

pandas, numpy, scikit-learn and matplotlib take 0.3-1.5 s to import on a 2-core machine (bench/RESULTS.md,
issue 13); a command that needs them imports them when it runs. What is imported is asserted, not a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "matplotlib")

# What `manage.py <command> --help` does before printing: set Django up, import the command, build its parser.
# Each step reports the heavy packages it was the first to import.
PROBE = f"""
import json, sys
import django
from django.core.management import get_commands, load_command_class

seen = set()

def first_imported():
    new = [name for name in {HEAVY!r} if name in sys.modules and name not in seen]
    seen.update(new)
    return new

django.setup()
report = {{"django.setup()": first_imported()}}
for name, app in sorted(get_commands().items()):
    if app == "predictions":
        load_command_class(app, name).create_parser("manage.py", name)
        report[name] = first_imported()
print(json.dumps(report))
"""


def test_no_command_imports_pandas_numpy_scikit_learn_or_matplotlib_before_it_runs(tmp_path):
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "fraudsite.settings",
        "SECRET_KEY": "test-only-secret-key",
        "FRAUDSITE_AUDIT_KEY": "test-only-audit-key-0123456789abcdef",
        "FRAUDSITE_VAR_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

    report = json.loads(done.stdout)

    assert "score_file" in report and "train_model" in report
    assert {step: names for step, names in report.items() if names} == {}
