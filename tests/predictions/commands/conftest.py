"""Helpers for the management command tests: run a command, count what the database holds, data files."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from predictions.models import ModelVersion, Prediction, Review, ScoringRequest, Transaction

# The small simulation (tests/conftest.py) runs 70 days from 2026-01-01: history is what comes before
# this day, the "recent" file is the rest, scored later.
RECENT_FROM = pd.Timestamp("2026-03-04", tz="UTC")


class Ran:
    def __init__(self, out: str, err: str) -> None:
        self.out, self.err = out, err

    @property
    def summary(self) -> str:
        return self.out.strip().splitlines()[-1]


@pytest.fixture
def run():
    """run("load_transactions", path, "--with-labels") -> Ran(out, err), through call_command."""

    def run_command(name: str, *args: object, **options: object) -> Ran:
        out, err = StringIO(), StringIO()
        call_command(name, *[str(arg) for arg in args], stdout=out, stderr=err, no_color=True, **options)
        return Ran(out.getvalue(), err.getvalue())

    return run_command


@pytest.fixture
def db_counts():
    """The number of rows in each table a command may change, to compare before and after."""

    def counts() -> dict[str, int]:
        return {
            model.__name__: model.objects.count()
            for model in (Transaction, Prediction, ScoringRequest, Review, ModelVersion)
        }

    return counts


@pytest.fixture(scope="session")
def simulation_files(small_transactions, tmp_path_factory) -> dict[str, Path]:
    """The small simulation as CSV files: all of it, the history before RECENT_FROM, and the recent rest."""
    from model_package.io import write_transactions

    directory = tmp_path_factory.mktemp("simulation")
    recent = small_transactions["timestamp"] >= RECENT_FROM
    files = {"all": directory / "all.csv", "history": directory / "history.csv", "recent": directory / "recent.csv"}
    write_transactions(small_transactions, files["all"])
    write_transactions(small_transactions[~recent], files["history"])
    write_transactions(small_transactions[recent], files["recent"])
    return files
