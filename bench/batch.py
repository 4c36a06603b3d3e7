"""Benchmark the batch commands on the book-size data set: load_transactions, then score_file.

The book's simulation (5,000 customers, 10,000 terminals, 183 days from 2018-04-01, about 1.75 million
transactions; cached under bench/out/) is split at 30 days before its end. A fresh database gets
everything before that loaded with labels (load_transactions), a random forest trained on it and
activated (train_model, not timed), and then the last 30 days are scored (score_file). Finally the whole
book file is loaded into a second, empty database: the issue's load target. Each command
runs as its own `manage.py` process, as an operator runs it; the figures are its wall time (Python and
Django start-up included), rows per second, and the process's peak resident memory (ru_maxrss from
wait4). Linux hands a parent's peak down to its children, so the data is prepared in a separate process
and this one stays small (a bare command's figure is printed as the floor). export_audit of everything
score_file stored is measured the same way, to show that a large export's memory stays near a bare
command's.

    .venv/bin/python bench/batch.py                        # SQLite file in a temporary directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/batch.py
                                                           # a fresh database on that PostgreSQL server

Targets (issue 5): load_transactions of the 1.75 million rows in under 3 minutes on SQLite;
score_file at 20,000 rows/s or more with peak memory under 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _support import environment, fresh_database, load_average  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
BOOK = {"customers": 5000, "terminals": 10000, "days": 183, "start": date(2018, 4, 1), "seed": 0}
SCORED_DAYS = 30


@dataclass(frozen=True)
class Run:
    command: str
    seconds: float
    peak_mib: float
    rows: int
    summary: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def main() -> None:
    args = _arguments()
    if args.prepare_into:
        _prepare(args)
        return
    work = Path(tempfile.mkdtemp(prefix="fraudsite-bench-batch-"))
    database = fresh_database(os.environ.get("DATABASE_URL"), work, "scoring")
    whole = fresh_database(os.environ.get("DATABASE_URL"), work, "whole")
    env = environment(work, database.url)
    try:
        history, recent, book = _prepared_files(args, work)
        print(f"database: {database.label}")
        print(f"load average before: {load_average()}")
        _manage(env, "migrate", "--noinput")
        runs = [_measured(env, "load_transactions", str(history.path), "--with-labels", rows=history.rows)]
        trained = _measured(env, "train_model", "--data", str(history.path), "--activate", rows=history.rows)
        print(f"  (train_model, not a target: {trained.seconds:.0f} s)")
        runs.append(_measured(env, "score_file", str(recent.path), "--out", str(work / "scores.csv"), rows=recent.rows))
        bare = _measured(env, "list_models", rows=0)
        today = date.today().isoformat()
        export = ("export_audit", "--since", today, "--until", today, "--format", "jsonl")
        runs.append(_measured(env, *export, "--out", str(work / "audit.jsonl"), rows=recent.rows + 1))
        # The load target is the whole book file (1.75 million rows), into an empty database.
        whole_env = environment(work, whole.url)
        _manage(whole_env, "migrate", "--noinput")
        whole_load = _measured(whole_env, "load_transactions", str(book.path), "--with-labels", rows=book.rows)
        runs.append(Run("load (whole file)", whole_load.seconds, whole_load.peak_mib, book.rows, whole_load.summary))
        _report(runs, bare, database.label, history=history, recent=recent)
    finally:
        database.drop()
        whole.drop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / "out", help="where the book CSV is kept")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (database, files)")
    parser.add_argument("--customers", type=int, default=BOOK["customers"], help="a smaller run for a quick look")
    parser.add_argument("--terminals", type=int, default=BOOK["terminals"])
    parser.add_argument("--days", type=int, default=BOOK["days"])
    parser.add_argument("--prepare-into", type=Path, help=argparse.SUPPRESS)  # the data-preparing child
    return parser.parse_args()


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataFile:
    path: Path
    rows: int
    first: str
    last: str


def _prepared_files(args: argparse.Namespace, work: Path) -> tuple[DataFile, DataFile, DataFile]:
    """history.csv and recent.csv in work, and the whole book file, from a child process (see the docstring)."""
    command = [PYTHON, __file__, "--prepare-into", str(work), "--cache", str(args.cache)]
    command += ["--customers", str(args.customers), "--terminals", str(args.terminals), "--days", str(args.days)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"preparing the data failed:\n{result.stderr}")
    lines = result.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line)
    files = json.loads(lines[-1])
    return DataFile(**files["history"]), DataFile(**files["recent"]), DataFile(**files["book"])


def _prepare(args: argparse.Namespace) -> None:
    """The child: the book simulation (cached), split into history and the last SCORED_DAYS days."""
    import pandas as pd

    from model_package.io import read_transactions, write_transactions
    from model_package.simulate import simulate

    options = {**BOOK, "customers": args.customers, "terminals": args.terminals, "days": args.days}
    path = args.cache / "book-{customers}x{terminals}x{days}-{start}-seed{seed}.csv".format(**options)
    if path.exists():
        frame = read_transactions(path)
    else:
        began = time.perf_counter()
        frame = simulate(**options)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_transactions(frame, path)
        print(f"simulated {len(frame):,} transactions in {time.perf_counter() - began:.0f} s, cached at {path}")
    cut = frame["timestamp"].max().normalize() - pd.Timedelta(days=SCORED_DAYS - 1)
    files = {}
    for name, part in (("history", frame[frame["timestamp"] < cut]), ("recent", frame[frame["timestamp"] >= cut])):
        part_path = args.prepare_into / f"{name}.csv"
        write_transactions(part, part_path)
        first, last = part["timestamp"].min(), part["timestamp"].max()
        files[name] = {
            "path": str(part_path),
            "rows": len(part),
            "first": f"{first:%Y-%m-%d}",
            "last": f"{last:%Y-%m-%d}",
        }
    files["book"] = {
        "path": str(path),
        "rows": len(frame),
        "first": f"{frame['timestamp'].min():%Y-%m-%d}",
        "last": f"{frame['timestamp'].max():%Y-%m-%d}",
    }
    print(json.dumps(files))


# --- running commands ---------------------------------------------------------------------


def _measured(env: dict[str, str], *command: str, rows: int) -> Run:
    """Run one manage.py command as its own process: wall time and that process's peak memory."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [PYTHON, "manage.py", *command, "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # wait4 gives this child's own resource usage; ru_maxrss is in KiB on Linux.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    out, err = process.stdout.read(), process.stderr.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"manage.py {' '.join(command)} failed:\n{out}\n{err}")
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    return Run(command[0], seconds, usage.ru_maxrss / 1024, rows, summary)


def _manage(env: dict[str, str], *command: str) -> None:
    result = subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


# --- report -------------------------------------------------------------------------------


def _report(runs: list[Run], bare: Run, label: str, *, history: DataFile, recent: DataFile) -> None:
    print()
    print(f"database: {label}; load average after: {load_average()}")
    print(f"history: {history.rows:,} rows ({history.first} .. {history.last}), loaded with labels")
    print(f"scored:  {recent.rows:,} rows ({recent.first} .. {recent.last}, the last {SCORED_DAYS} days)")
    print()
    print(f"{'command':<20}{'rows':>12}{'seconds':>10}{'rows/s':>10}{'peak MiB':>10}")
    for run in runs:
        print(
            f"{run.command:<20}{run.rows:>12,}{run.seconds:>10.1f}{run.rows_per_second:>10,.0f}{run.peak_mib:>10,.0f}"
        )
    print(f"{'(bare command)':<20}{'':>12}{bare.seconds:>10.1f}{'':>10}{bare.peak_mib:>10,.0f}")
    print()
    for run in runs:
        print(f"{run.command}: {run.summary}")
    load, score = runs[-1], runs[1]
    print()
    print(
        f"target load_transactions of the whole file ({load.rows:,} rows) < 180 s: "
        f"{'met' if load.seconds < 180 else 'MISSED'} ({load.seconds:.0f} s)"
    )
    print(
        f"target score_file >= 20,000 rows/s: {'met' if score.rows_per_second >= 20_000 else 'MISSED'} "
        f"({score.rows_per_second:,.0f})"
    )
    print(f"target score_file peak < 2048 MiB: {'met' if score.peak_mib < 2048 else 'MISSED'} ({score.peak_mib:,.0f})")


if __name__ == "__main__":
    main()
