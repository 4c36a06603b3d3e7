"""What every fraudsite management command shares: help with an example, a progress bar, one-line errors.

A command subclasses `FraudsiteCommand`, sets `help` and `example`, and lets its service raise its own
errors: a DomainError (predictions.errors), a ModelPackageError (model_package.errors), an OSError and a
database that cannot be reached become a one-line `CommandError` (exit status 1, no traceback); anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import OperationalError
from django.utils.dateparse import parse_datetime
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from model_package.errors import ModelPackageError
from predictions.errors import DomainError


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the description and the example printed as written."""


def one_line(exc: BaseException) -> str:
    """The exception's message on a single line (an operator's terminal, a cron mail, a log line)."""
    if isinstance(exc, OSError) and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())


class FraudsiteCommand(BaseCommand):
    """A management command that behaves like a good Unix tool."""

    example: str = ""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        if self.example:
            kwargs.setdefault("epilog", "example:\n  " + self.example.strip().replace("\n", "\n  "))
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
        return parser

    def execute(self, *args: Any, **options: Any) -> str | None:
        self._progress_enabled = not options.get("no_progress") and sys.stderr.isatty()
        try:
            with console_logging(verbosity=options.get("verbosity", 1)):
                return super().execute(*args, **options)
        except CommandError:
            raise
        except (DomainError, ModelPackageError, OSError) as exc:
            raise CommandError(one_line(exc)) from None
        except OperationalError as exc:  # the database cannot be reached or opened: not a bug of the command
            raise CommandError(f"database: {one_line(exc)} (is DATABASE_URL right, and has `migrate` run?)") from None

    def progress(self, *, description: str, unit: str = "rows") -> ProgressBar:
        """A progress callback for a service; draws a tqdm bar on a terminal unless --no-progress."""
        return ProgressBar(description=description, unit=unit, enabled=getattr(self, "_progress_enabled", False))

    def table(self, rows: list[tuple[str, ...]]) -> None:
        """Rows of text (the first is the header) in columns as wide as their widest cell."""
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())

    def summary(self, line: str) -> None:
        """The last line a command prints: what it did, in numbers."""
        self.stdout.write(self.style.SUCCESS(line))


@contextmanager
def console_logging(*, verbosity: int) -> Iterator[None]:
    """While a command runs, its log lines on the console go above the progress bar, and INFO ones only at -v 2.

    A service logs its outcome at INFO for the server's log; the command prints the same outcome as its
    summary, so at the default verbosity the console shows it once. Warnings and errors always show.
    tqdm.write (through logging_redirect_tqdm) clears the bar, writes the line and draws the bar again,
    where a plain StreamHandler would write into the middle of the bar.
    """
    with logging_redirect_tqdm():
        console = logging.getLogger().handlers[-1]  # logging_redirect_tqdm puts its handler last
        console.setLevel(logging.INFO if verbosity >= 2 else logging.WARNING)
        yield


class ProgressBar:
    """Callable as progress(advance, total): created lazily, because the total is known only once a file is read."""

    def __init__(self, *, description: str, unit: str, enabled: bool) -> None:
        self._description = description
        self._unit = unit
        self._enabled = enabled
        self._bar: tqdm | None = None

    def __call__(self, advance: int, total: int) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self._description, unit=self._unit, unit_scale=True, leave=False)
        self._bar.update(advance)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()


Progress = Callable[[int, int], None]


def time_bound(value: str, *, end: bool = False) -> datetime:
    """Parse a --since/--until value: a date (YYYY-MM-DD) or an ISO 8601 time; UTC when no zone is given.

    A date as an upper bound means the end of that day, so `--since 2026-01-01 --until 2026-01-31` is all of January.
    """
    try:
        day = date.fromisoformat(value)
    except ValueError:
        moment = parse_datetime(value)
        if moment is None:
            raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def since_bound(value: str) -> datetime:
    """argparse type for an inclusive lower bound."""
    return time_bound(value)


def until_bound(value: str) -> datetime:
    """argparse type for an exclusive upper bound (a bare date includes that whole day)."""
    return time_bound(value, end=True)


def positive_int(value: str) -> int:
    """argparse type for a count of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number
