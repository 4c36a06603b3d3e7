"""The service matches its OpenAPI schema: schemathesis against the live server, with each role's token.

Every check runs (server errors, status codes, response schemas and headers, negative and positive data,
auth, ...). Each token meets the operations of its role: the scoring client POST transactions/ and batch/,
the analyst every other one (health included). The other role's operations would only answer 403, and
generating batches of 1,000 items to be told so would double the time.

Two things are narrowed, because the service refuses them on purpose and no schema keyword can say so:

- NUL in strings (`--generation-allow-x00 false`): the README's strict parser answers `parse_error` for it
  anywhere, free-form metadata included, and PostgreSQL could not store it; the unit tests
  (tests/predictions/api/test_strict_input.py) hold those refusals;
- a timestamp's range and a batch's unique ids: see schemathesis_hooks.py, which also leaves out request
  lines longer than gunicorn takes.

The number of examples bounds the time: the two runs take one to two minutes together.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.live, pytest.mark.slow]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
MAX_EXAMPLES = 25  # per operation and phase
SCORING_OPERATIONS = ["transactions_create", "transactions_batch_create"]
TIMEOUT = 150  # seconds: a safety net; a run takes half a minute to a minute


@pytest.mark.parametrize("role", ["scoring", "analyst"])
def test_the_service_answers_as_its_schema_says(live_service, role, tmp_path):
    token = live_service.scoring_token if role == "scoring" else live_service.analyst_token
    command = [
        str(SCHEMATHESIS),
        "--no-color",
        "run",
        f"{live_service.origin}/api/v1/schema/?format=json",
        "--url",
        live_service.origin,
        "--header",
        f"Authorization: Token {token}",
        *operations_of(role),
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--continue-on-failure",
        # The service's own limit is gunicorn's worker timeout (30 s): past it the client sees a failure anyway.
        "--request-timeout",
        "30",
        "--generation-allow-x00",
        "false",
        "--generation-database",
        "none",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    # tmp_path as the working directory: no schemathesis.toml is picked up, no report is left behind.
    exit_code, printed = run(command, cwd=tmp_path, env=env)

    outcome = f"ran out of its {TIMEOUT} s" if exit_code is None else f"failed ({exit_code})"
    assert exit_code == 0, f"schemathesis with the {role} token {outcome}:\n{printed}"


def operations_of(role: str) -> list[str]:
    """schemathesis options that select the operations this role may use."""
    option = "--include-operation-id" if role == "scoring" else "--exclude-operation-id"
    return [argument for operation in SCORING_OPERATIONS for argument in (option, operation)]


def run(command: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """(exit code, None if it ran out of time; everything it printed, so far)."""
    output = cwd / "schemathesis.out"
    with output.open("w") as stream:
        try:
            exit_code = subprocess.run(
                command, cwd=cwd, env=env, stdout=stream, stderr=subprocess.STDOUT, timeout=TIMEOUT
            ).returncode
        except subprocess.TimeoutExpired:
            exit_code = None
    return exit_code, output.read_text(errors="replace")
