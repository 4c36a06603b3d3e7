"""What a command shows on a console: its summary once, log lines above the progress bar, not inside it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management import call_command

from predictions.management.base import FraudsiteCommand


@contextmanager
def _console() -> Iterator[None]:
    """The root logger writes to stderr only, as Django's console handler does in a terminal.

    Set up inside the test, where sys.stderr is the stream capsys reads (it differs during fixture set-up).
    """
    root = logging.getLogger()
    saved = root.handlers
    root.handlers = [logging.StreamHandler(sys.stderr)]
    try:
        yield
    finally:
        root.handlers = saved


def _lines_saying(text: str, words: str) -> list[str]:
    return [line for line in text.splitlines() if words in line]


@pytest.mark.django_db
def test_a_summary_is_shown_once_not_also_as_a_log_line(simulation_files, capsys):
    with _console():
        call_command("load_transactions", str(simulation_files["history"]), stdout=sys.stdout, stderr=sys.stderr)

    captured = capsys.readouterr()
    assert len(_lines_saying(captured.out + captured.err, "already stored")) == 1
    assert captured.err == ""


@pytest.mark.django_db
def test_verbosity_2_shows_the_services_log_lines_too(simulation_files, capsys):
    with _console():
        call_command(
            "load_transactions", str(simulation_files["history"]), verbosity=2, stdout=sys.stdout, stderr=sys.stderr
        )

    captured = capsys.readouterr()
    assert len(_lines_saying(captured.out, "already stored")) == 1
    assert len(_lines_saying(captured.err, "already stored")) == 1  # the service's INFO line


class _LogsWhileDrawing(FraudsiteCommand):
    def handle(self, *args: object, **options: object) -> None:
        with self.progress(description="working") as progress:
            progress(5, 10)
            logging.getLogger("predictions.test").warning("halfway there")
            progress(5, 10)


def test_a_log_line_goes_on_its_own_line_above_the_progress_bar(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)

    with _console():
        call_command(_LogsWhileDrawing(), stdout=sys.stdout, stderr=sys.stderr)

    err = capsys.readouterr().err
    before_the_line = err[: err.index("halfway there")]
    # tqdm.write clears the bar ("\r", spaces, "\r") before it writes: nothing of the bar is left on that line.
    assert "working" in before_the_line
    assert before_the_line.split("\n")[-1].split("\r")[-1] == ""
    assert err.count("halfway there") == 1
