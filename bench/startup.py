"""How long `manage.py --help` and each fraudsite command's `--help` take, as an operator starts them (issue 13).

Each line is one `manage.py ... --help` process, started RUNS times in turn with the production settings
(DEBUG=0, bench/_support.environment; --help never opens the database); the figures are wall times, Python
start-up included. One more run of each under `python -X importtime` names the heavy libraries it imported.
The first line is the floor: `import django; django.setup()` alone (the settings, the apps, the admin).

    .venv/bin/python bench/startup.py                  # every command, 5 runs each
    .venv/bin/python bench/startup.py --runs 9 score_file train_model

Target (issue 13): each under 1 s on this 2-core machine; a median under 0.7 s leaves room for a loaded one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _support import environment, load_average  # noqa: E402

HEAVY = ("pandas", "numpy", "sklearn", "scipy", "matplotlib")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commands", nargs="*", help="command names (default: manage.py itself and every command)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    names = args.commands or sorted(path.stem for path in (ROOT / "predictions/management/commands").glob("[!_]*.py"))
    runs = [(f"`{name} --help`", ["manage.py", name, "--help"]) for name in names]
    if not args.commands:
        # manage.py itself, and the floor that no command goes below: Django's set-up alone.
        runs[:0] = [
            ("floor: `python -c 'import django; django.setup()'`", ["-c", "import django; django.setup()"]),
            ("`manage.py --help`", ["manage.py", "--help"]),
        ]
    with tempfile.TemporaryDirectory(prefix="fraudsite-startup-") as work:
        env = environment(Path(work), f"sqlite:///{work}/unused.sqlite3")
        print(f"{sys.executable} manage.py <command> --help, {args.runs} runs each; load average {load_average()}")
        print("| command | median | max | heavy imports |\n|---|---|---|---|")
        for label, words in runs:
            argv = [sys.executable, *words]
            times = [_wall_time(argv, env) for _ in range(args.runs)]
            heavy = ", ".join(_heavy_imports(argv, env)) or "none"
            print(f"| {label} | {statistics.median(times):.2f} s | {max(times):.2f} s | {heavy} |", flush=True)
        print(f"load average after: {load_average()}")


def _wall_time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The HEAVY top-level packages the command imported, from -X importtime's lines ("import time: ... | name")."""
    run = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in imported]


if __name__ == "__main__":
    main()
