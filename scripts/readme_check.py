"""Run the README's examples as printed, top to bottom, twice, in a fresh copy of the repository.

    nice -n 19 .venv/bin/python scripts/readme_check.py [--keep]

The examples are the README's code blocks fenced as "```sh example". The script copies the working tree
(the files git tracks or would track) to a temporary directory with the repository's .venv linked in, so
`var/` and the SQLite database there are new; then, twice over, it does what `make run` does (migrate,
bootstrap_demo, collectstatic, gunicorn with two workers) on a spare port instead of 8000, runs the curl
that bootstrap_demo printed, and runs each example command in bash, in order, with the shell variables
the earlier ones set. It checks:

- every command exits 0, and every variable it sets is not empty;
- each curl answers the status its comment states (`# answers 201`), and shows the text the comment
  quotes (`# answers 409, showing "duplicate_transaction"`); a curl without such a comment is an error;
- var/demo-credentials.json holds the scoring token bootstrap_demo printed, and the printed curl scores;
- evaluate_model evaluates some labelled transactions and writes its two charts.

It prints one line per command and exits 1 if any check failed. `.ci/run` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_BLOCK = re.compile(r"^```sh example\n(.*?)^```", re.DOTALL | re.MULTILINE)
ANSWERS = re.compile(r'#\s*answers\s+(\d{3})(?:,\s*showing\s+"([^"]*)")?')
ASSIGNED = re.compile(r"^(?:export\s+)?([A-Z_][A-Z0-9_]*)=", re.MULTILINE)
STATUS_MARK = "@@readme-check status "
README_PORT = "127.0.0.1:8000"
# Settings the README's local demo runs without: a developer's or CI's own must not leak into it.
ENVIRONMENT_LEFT_OUT = (
    "DATABASE_URL",
    "CACHE_URL",
    "REDIS_URL",
    "FRAUDSITE_VAR_DIR",
    "FRAUDSITE_MODEL_DIR",
    "FRAUDSITE_AUDIT_KEY",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
)
COMMAND_SECONDS = 600


@dataclass(frozen=True)
class Example:
    """One command of an example block, as printed, with the HTTP answer its comment promises."""

    text: str
    status: str | None  # "201" for a curl, None for another command
    showing: str | None


def examples(readme: str) -> list[Example]:
    """The commands of the README's `sh example` blocks, in order; a command may span lines."""
    commands = []
    for block in EXAMPLE_BLOCK.findall(readme):
        pending: list[str] = []
        for line in block.splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending.append(line)
            text = "\n".join(pending)
            if not line.endswith("\\") and _balanced(text):
                commands.append(_example(text))
                pending = []
        if pending:
            raise SystemExit(f"README: an example block ends inside a command:\n{chr(10).join(pending)}")
    return commands


def _balanced(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # a quote still open: the command goes on on the next line
        return False
    return True


def _example(text: str) -> Example:
    answers = ANSWERS.search(text)
    is_curl = shlex.split(text, comments=True)[0] == "curl"
    if is_curl and answers is None:
        raise SystemExit(f"README: this curl does not say what it answers (# answers NNN):\n{text}")
    if answers is None:
        return Example(text=text, status=None, showing=None)
    return Example(text=text, status=answers.group(1), showing=answers.group(2))


class Checker:
    """Runs commands in the copy, with the examples' shell variables carried from one to the next."""

    def __init__(self, *, root: Path, port: int, variables: list[str]) -> None:
        self.root = root
        self.port = port
        self.variables = variables
        self.state = root / "var" / "readme-check-state.sh"
        self.failures: list[str] = []
        self.environment = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT_LEFT_OUT}
        self.environment.update({"DEBUG": "1", "PORT": str(port)})

    def run(self, text: str) -> subprocess.CompletedProcess[str]:
        """Run `text` in bash as a reader would paste it (on this port), carrying the variables along."""
        script = "\n".join(
            [
                f"[ -f {shlex.quote(str(self.state))} ] && . {shlex.quote(str(self.state))}",
                f"curl() {{ command curl -w '\\n{STATUS_MARK}%{{http_code}}\\n' \"$@\"; }}",
                text.replace(README_PORT, f"127.0.0.1:{self.port}"),
                "status=$?",
                f"declare -p {' '.join(self.variables)} > {shlex.quote(str(self.state))} 2>/dev/null",
                "exit $status",
            ]
        )
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
        )

    def check(self, label: str, problems: list[str]) -> None:
        print(f"  {'ok  ' if not problems else 'FAIL'} {label}", flush=True)
        for problem in problems:
            print(f"       {problem}", flush=True)
        self.failures.extend(f"{label}: {problem}" for problem in problems)

    def example(self, example: Example) -> str:
        """Run one example and check it; return its output."""
        done = self.run(example.text)
        output = "\n".join(line for line in done.stdout.splitlines() if not line.startswith(STATUS_MARK))
        statuses = [line[len(STATUS_MARK) :] for line in done.stdout.splitlines() if line.startswith(STATUS_MARK)]
        problems = []
        if done.returncode != 0:
            problems.append(f"exit status {done.returncode}: {_last_lines(done.stderr or done.stdout)}")
        if example.status is not None and statuses != [example.status]:
            said = f"answered {statuses or 'nothing'}, the README says {example.status}"
            problems.append(f"{said}: {_last_lines(output)}")
        if example.showing is not None and example.showing not in output:
            problems.append(f"the answer does not show {example.showing!r}: {_last_lines(output)}")
        for name in ASSIGNED.findall(example.text):
            if self.run(f'[ -n "${name}" ]').returncode != 0:
                problems.append(f"${name} is empty after it")
        problems.extend(_command_checks(self.root, example.text, output))
        self.check(_first_line(example.text), problems)
        return output


def _command_checks(root: Path, text: str, output: str) -> list[str]:
    """What the README says of a command's output beyond its exit status."""
    if "evaluate_model" not in text:
        return []
    problems = []
    evaluated = re.search(r"evaluated ([\d,]+) labelled transactions", output)
    if evaluated is None or int(evaluated.group(1).replace(",", "")) == 0:
        problems.append(f"evaluate_model evaluated no labelled transaction: {_last_lines(output)}")
    charts = re.findall(r"^wrote (\S+\.png)$", output, re.MULTILINE)
    if len(charts) != 2 or not all((root / chart).stat().st_size > 0 for chart in charts):
        problems.append(f"evaluate_model wrote {charts}, not two charts")
    return problems


def _first_line(text: str) -> str:
    line = text.splitlines()[0]
    return line if len(line) <= 110 else line[:107] + "..."


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-count:])[:600]


def fresh_copy(destination: Path) -> Path:
    """The working tree's files (tracked, or untracked and not ignored) copied, with the .venv linked."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    (destination / ".venv").symlink_to((REPO / ".venv").resolve())
    return destination


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_run(checker: Checker) -> tuple[subprocess.Popen[bytes], str]:
    """What `make run` does (Makefile: migrate, bootstrap, run), with the server on the checker's port.

    Returns the server and bootstrap_demo's output.
    """
    steps = [
        "mkdir -p var",
        ".venv/bin/python manage.py migrate --noinput",
        ".venv/bin/python manage.py bootstrap_demo",
        ".venv/bin/python manage.py collectstatic --noinput --verbosity 0",
    ]
    bootstrap = ""
    for step in steps:
        done = checker.run(step)
        checker.check(f"make run: {step}", [] if done.returncode == 0 else [_last_lines(done.stderr)])
        bootstrap = done.stdout if "bootstrap_demo" in step else bootstrap
    log = open(checker.root / "var" / "gunicorn.log", "ab")  # noqa: SIM115 - open while the server runs
    command = [".venv/bin/gunicorn", "-c", "gunicorn.conf.py", "fraudsite.wsgi"]  # as make run starts it
    server = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{checker.port}", "--workers", "2"],
        cwd=checker.root,
        env=checker.environment,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    _wait_until_live(checker.port, server)
    return server, bootstrap


def _wait_until_live(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start-up (exit {server.returncode}); see var/gunicorn.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/live", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer health/live within 60 s")


def check_bootstrap(checker: Checker, printed: str) -> None:
    """The token it printed is the one in var/demo-credentials.json, and the curl it printed scores."""
    credentials = json.loads((checker.root / "var" / "demo-credentials.json").read_text())
    token = re.search(r"scoring client token:\s+(\S+)", printed)
    checker.check(
        "var/demo-credentials.json holds the printed scoring token",
        [] if token and credentials.get("demo-client-key") == token.group(1) else ["it does not"],
    )
    lines = printed.split("try it")[1].splitlines()[1:]
    snippet = "\n".join(line.strip() for line in lines if line.startswith("  "))
    done = checker.run(snippet)
    statuses = [line[len(STATUS_MARK) :] for line in done.stdout.splitlines() if line.startswith(STATUS_MARK)]
    checker.check(
        "the curl that make run printed scores (201)",
        [] if statuses == ["201"] else [f"answered {statuses}: {_last_lines(done.stdout)}"],
    )


def stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)  # gunicorn's master and its workers, a session of their own
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the copy (its var/ holds the logs)")
    arguments = parser.parse_args()
    readme = (REPO / "README.md").read_text()
    commands = examples(readme)
    variables = sorted({name for command in commands for name in ASSIGNED.findall(command.text)})
    began = time.monotonic()
    root = fresh_copy(Path(tempfile.mkdtemp(prefix="readme-check-")))
    checker = Checker(root=root, port=spare_port(), variables=variables)
    print(f"README: {len(commands)} example commands; a fresh copy in {root}, the server on port {checker.port}")
    try:
        for run in (1, 2):
            print(f"== run {run} ==", flush=True)
            server, printed = make_run(checker)
            try:
                check_bootstrap(checker, printed)
                for command in commands:
                    checker.example(command)
            finally:
                stop(server)
    finally:
        if not arguments.keep:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.monotonic() - began
    if checker.failures:
        print(f"README check: {len(checker.failures)} failures in {seconds:.0f} s")
        return 1
    print(f"README check: every example ran as printed, twice, in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
