"""What the CSV file services share, without pandas, so that the admin and a command's --help can import it.

A refused row and how many of them a run reports (loading, score_file's batch, the label import), and the rows
per database transaction of load_transactions and score_file (the defaults of their --chunk-rows).
"""

from __future__ import annotations

from dataclasses import dataclass

REPORTED_BAD_ROWS = 20
# load_transactions: each commit rewrites the index pages it touched, so bigger chunks load faster
# (1 million rows on SQLite: 29k rows/s in chunks of 20k, 44k rows/s in chunks of 100k).
LOAD_CHUNK_ROWS = 100_000
# score_file: bigger is faster (each commit rewrites the customer and terminal index pages it touched,
# nearly all of them), but holds SQLite's write lock longer (about 2.5 s for 100k rows). On the book's last
# 30 days (SQLite): 10k rows 8.9k rows/s, 50k 20.1k, 100k 21.1k; 150k and more are slower again (the dirty
# pages outgrow the 256 MiB cache of bulk_write_cache).
SCORE_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class BadRow:
    """A row of an input file that was refused: its line number (the header is line 1) and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"
