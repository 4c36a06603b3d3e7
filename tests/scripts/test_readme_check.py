"""scripts/readme_check.py finds the README's examples and what each curl in them promises (no server here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def readme_check():
    spec = importlib.util.spec_from_file_location("readme_check", ROOT / "scripts" / "readme_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_curl_of_the_readme_says_what_it_answers(readme_check):
    commands = readme_check.examples((ROOT / "README.md").read_text())

    curls = [command for command in commands if command.text.startswith("curl")]
    assert len(curls) >= 10
    assert all(command.status for command in curls)
    assert any(command.status == "409" and command.showing == "duplicate_transaction" for command in curls)


def test_a_command_spans_lines_until_its_quotes_close(readme_check):
    readme = '```sh example\nBODY=\'{"a":\n  1}\'\ncurl -s \\\n  -d "$BODY" http://x/   # answers 201\n```\n'

    commands = readme_check.examples(readme)

    assert [command.text.splitlines()[0] for command in commands] == ['BODY=\'{"a":', "curl -s \\"]
    assert (commands[1].status, commands[1].showing) == ("201", None)


def test_a_curl_that_does_not_say_what_it_answers_is_an_error(readme_check):
    with pytest.raises(SystemExit, match="does not say what it answers"):
        readme_check.examples("```sh example\ncurl -s http://x/\n```\n")


def test_plain_sh_blocks_are_not_examples(readme_check):
    assert readme_check.examples("```sh\nmake run\n```\n") == []
