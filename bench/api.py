"""Benchmark the scoring API end to end under wrk, with a bare WSGI app as the floor in the same run.

A fresh database gets 45 days of simulated history (with labels) and a trained, active model; gunicorn
serves it with the workers gunicorn.conf.py starts (as `make run` and the README's production command do: one
per core, one more on PostgreSQL). wrk, a load generator in C that does not share a
Python process with the server, then posts new transactions for a fixed time: bench/wrk/post.lua replays
the simulated day that follows the history (so the share of flagged scores, which are explained, is the
model's own), each id made new with a suffix:

- the floor: bench/wrk/hello.py, a bare WSGI "hello" under the same gunicorn and gunicorn.conf.py, 16 connections;
- fraudsite at 16 connections, then at 1 connection;
- with --instances 2: two gunicorn masters on two ports (two hosts, one database, one cache), loaded at
  once with 8 connections each; their total beside the single instance.

It prints the table of bench/RESULTS.md, each rate as a ratio of the floor's, and checks the audit: one
ScoringRequest row per answer wrk counted (plus at most the requests in flight when wrk stopped).

    .venv/bin/python bench/api.py                              # SQLite file in a temporary directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/api.py
                                                               # a fresh PostgreSQL database on that server
    DATABASE_URL=postgres://... CACHE_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/api.py --instances 2

Targets (issue 13, this 2-core machine): SQLite >= 600 req/s at 16 connections (and >= 0.075 of the
floor), p50 <= 3 ms and p99 <= 10 ms at 1 connection; PostgreSQL >= 500 req/s, p50 <= 4 ms, p99 <= 12 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _support import environment, fresh_database, load_average  # noqa: E402

from model_package.io import write_transactions  # noqa: E402
from model_package.simulate import simulate  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
WRK_DIR = ROOT / "bench" / "wrk"


@dataclass
class Load:
    """What one wrk run measured."""

    label: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def main() -> None:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="fraudsite-bench-"))
    database = fresh_database(os.environ.get("DATABASE_URL"), work, "api")
    env = environment(work, database.url)
    servers: list[subprocess.Popen] = []
    try:
        print(f"database: {database.label}")
        post = [_prepare(env, work, args), str(work / "replay.txt")]  # post.lua's arguments: key, replay file
        loads: list[Load] = []
        audited_before = _audit_rows(env)
        floor_port = _free_port()
        servers.append(_start(["bench.wrk.hello:app"], env, work, floor_port, args, ready="/"))
        floor = _wrk("floor (bare WSGI hello)", floor_port, 16, args.duration, None)
        _stop(servers.pop())
        port = _free_port()
        servers.append(_start(["fraudsite.wsgi"], env, work, port, args))
        args.workers = args.workers or _workers(servers[-1])
        loads.append(_wrk("fraudsite, 16 connections", port, 16, args.duration, post))
        loads.append(_wrk("fraudsite, 1 connection", port, 1, args.duration, post))
        if args.instances == 2:
            second = _free_port()
            servers.append(_start(["fraudsite.wsgi"], env, work, second, args))
            loads.extend(_wrk_both(port, second, args.duration, post))
        while servers:
            _stop(servers.pop())
        audited = _audit_rows(env) - audited_before
        _report(floor, loads, audited, database.label, args)
    finally:
        for server in servers:
            _stop(server)
        if args.keep:
            print(f"kept {work} and the database {database.url}")
        else:
            database.drop()
            shutil.rmtree(work, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds of each wrk run (20)")
    parser.add_argument(
        "--workers",
        type=int,
        help="gunicorn sync workers per instance (default gunicorn.conf.py's: one per core, one more on PostgreSQL)",
    )
    parser.add_argument("--instances", type=int, choices=(1, 2), default=1, help="app instances (2: also both at once)")
    parser.add_argument("--customers", type=int, default=3000, help="simulated customers (3000)")
    parser.add_argument("--terminals", type=int, default=6000, help="simulated terminals (6000)")
    # The default model's protocol needs 42 days (28 train, 7 delay, 7 test).
    parser.add_argument("--history-days", type=int, default=45, help="days of history loaded (45)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs) and the database")
    return parser.parse_args()


# --- set-up -------------------------------------------------------------------------------


def _prepare(env: dict[str, str], work: Path, args: argparse.Namespace) -> str:
    """Migrate, load the history with labels, train and activate a model, create a client; its key.

    Writes work/replay.txt, the day after the history, for bench/wrk/post.lua.
    """
    start = (datetime.now(UTC) - timedelta(days=args.history_days + 1)).date()
    frame = simulate(
        customers=args.customers, terminals=args.terminals, days=args.history_days + 1, start=start, seed=args.seed
    )
    frame = frame.sort_values(["timestamp", "transaction_id"])
    cutoff = frame["timestamp"].min().normalize() + timedelta(days=args.history_days)
    history, replay = frame[frame["timestamp"] < cutoff], frame[frame["timestamp"] >= cutoff]
    path = work / "history.csv"
    write_transactions(history, path)
    lines = (
        f"{row.transaction_id} {row.timestamp.isoformat()} {row.customer_id} {row.terminal_id} {row.amount:.2f}\n"
        for row in replay.itertuples()
    )
    (work / "replay.txt").write_text("".join(lines))
    print(f"history: {len(history):,} transactions, {args.history_days} days; replayed: {len(replay):,}, the next day")
    budget = max(1, round(len(history) / args.history_days / 100))  # about 1 % of a day's transactions
    _manage(env, "migrate", "--noinput")
    _manage(env, "load_transactions", str(path), "--with-labels", "--no-progress")
    _manage(env, "train_model", "--data", str(path), "--activate", "--alert-budget", str(budget), "--no-progress")
    return _manage(env, "create_api_client", "bench-client", "--role", "scoring", quiet=True).strip().splitlines()[-1]


def _manage(env: dict[str, str], *command: str, quiet: bool = False) -> str:
    started = time.perf_counter()
    result = subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    if not quiet:
        print(f"  manage.py {command[0]}: {time.perf_counter() - started:.1f} s")
    return result.stdout


def _audit_rows(env: dict[str, str]) -> int:
    code = "from predictions.models import ScoringRequest; print(ScoringRequest.objects.count())"
    return int(_manage(env, "shell", "-c", code, quiet=True).strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(
    app: list[str], env: dict[str, str], work: Path, port: int, args: argparse.Namespace, ready: str = ""
) -> subprocess.Popen:
    # The settings `make run` and production use (metrics in multiprocess mode, the access log), for the floor too.
    command = [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), *app, "--bind", f"127.0.0.1:{port}"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    command += ["--error-logfile", str(work / f"gunicorn-{port}.log")]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = ready or "/api/v1/health/ready"  # also loads the model in the worker that answers
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                time.sleep(1)  # the other workers finish booting
                return server
        except OSError:
            pass
        time.sleep(0.2)
    _stop(server)
    sys.exit(f"gunicorn did not become ready; see {work}")


def _workers(server: subprocess.Popen) -> int:
    """How many workers a gunicorn master runs (its child processes)."""
    return len(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split())


def _stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --- wrk ----------------------------------------------------------------------------------


def _wrk_command(port: int, connections: int, seconds: int, post: list[str] | None) -> list[str]:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if post is None:
        return [*command, f"http://127.0.0.1:{port}/"]
    return [*command, "-s", str(WRK_DIR / "post.lua"), f"http://127.0.0.1:{port}", "--", *post]


def _wrk(label: str, port: int, connections: int, seconds: int, post: list[str] | None) -> Load:
    output = subprocess.run(_wrk_command(port, connections, seconds, post), capture_output=True, text=True).stdout
    return _parsed(label, connections, output)


def _wrk_both(first: int, second: int, seconds: int, post: list[str]) -> list[Load]:
    """Both instances at once, 8 connections each (16 in all): each one's figures and their total."""
    runs = [
        subprocess.Popen(_wrk_command(port, 8, seconds, post), stdout=subprocess.PIPE, text=True)
        for port in (first, second)
    ]
    loads = [_parsed(f"instance {n}, 8 connections", 8, run.communicate()[0]) for n, run in enumerate(runs, 1)]
    total = Load(
        label="two instances at once, 16 connections",
        connections=16,
        requests=sum(load.requests for load in loads),
        seconds=max(load.seconds for load in loads),
        p50_ms=max(load.p50_ms for load in loads),  # the slower instance's: an upper bound of the whole
        p99_ms=max(load.p99_ms for load in loads),
        non_2xx=sum(load.non_2xx for load in loads),
        socket_errors=sum(load.socket_errors for load in loads),
    )
    return [*loads, total]


def _parsed(label: str, connections: int, output: str) -> Load:
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    if done is None:
        sys.exit(f"wrk printed no result for {label}:\n{output}")
    seconds = float(done.group(2)) * (1.0 if done.group(3) == "s" else 0.001)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Load(
        label=label,
        connections=connections,
        requests=int(done.group(1)),
        seconds=seconds,
        p50_ms=_latency_ms(output, "50%"),
        p99_ms=_latency_ms(output, "99%"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def _latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


# --- the report ---------------------------------------------------------------------------


def _report(floor: Load, loads: list[Load], audited: int, database: str, args: argparse.Namespace) -> None:
    print()
    print(f"database: {database}; gunicorn sync, {args.workers} workers per instance; wrk {args.duration} s per run")
    print("| path | req/s | of the floor | p50 | p99 | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    for load in [floor, *loads]:
        print(
            f"| {load.label} | {load.rate:,.1f} | {load.rate / floor.rate:.4f} | {load.p50_ms:.2f} ms "
            f"| {load.p99_ms:.2f} ms | {load.non_2xx} | {load.socket_errors} |"
        )
    answered = sum(load.requests for load in loads if not load.label.startswith("two instances"))
    in_flight = sum(load.connections for load in loads if not load.label.startswith("two instances"))
    holds = answered <= audited <= answered + in_flight
    print(f"audit rows added: {audited:,} for {answered:,} answers wrk counted (+ up to {in_flight} in flight)")
    print(f"audit holds: {'yes' if holds else 'NO'}; load {load_average()} (1/5/15 min, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
