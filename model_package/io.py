"""Reading and writing transaction tables (CSV), with one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model_package.errors import DataFileError

TRANSACTION_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "terminal_id",
    "amount",
    "is_fraud",
    "fraud_scenario",
)
# Columns a file must have; labels are required unless the caller says they may be missing.
_CORE_COLUMNS = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount")
_ID_COLUMNS = ("transaction_id", "customer_id", "terminal_id")


def read_transactions(path: str | Path, *, require_labels: bool = True) -> pd.DataFrame:
    """Read a transaction CSV: timestamps tz-aware UTC (naive ones are read as UTC), ids str, amount float.

    is_fraud must be present unless require_labels is False (then a missing column means 0);
    fraud_scenario is optional (0 when missing). Raises DataFileError with a one-line reason.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        raw = pd.read_csv(path, dtype={column: str for column in _ID_COLUMNS}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: not a readable CSV file ({type(exc).__name__})") from None
    required = _CORE_COLUMNS + (("is_fraud",) if require_labels else ())
    missing = [column for column in required if column not in raw.columns]
    if missing:
        raise DataFileError(f"{path}: missing column(s) {', '.join(missing)}")
    if raw.empty:
        raise DataFileError(f"{path}: no transactions")
    return _typed(raw, path)


def _typed(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for column in _ID_COLUMNS:
        ids = raw[column].astype(str)
        if (ids.str.len() == 0).any():
            raise DataFileError(f"{path}: empty {column} on line {_first_line(ids.str.len() == 0)}")
        frame[column] = ids
    if frame["transaction_id"].duplicated().any():
        raise DataFileError(
            f"{path}: duplicate transaction_id on line {_first_line(frame.transaction_id.duplicated())}"
        )
    frame.insert(
        1, "timestamp", _column(raw, "timestamp", path, lambda s: pd.to_datetime(s, utc=True, format="ISO8601"))
    )
    frame["amount"] = _column(raw, "amount", path, lambda s: pd.to_numeric(s).astype(np.float64))
    if (frame["amount"] < 0).any() or frame["amount"].isna().any():
        raise DataFileError(f"{path}: negative or empty amount on line {_first_line(~(frame.amount >= 0))}")
    for column in ("is_fraud", "fraud_scenario"):
        values = _column(raw, column, path, pd.to_numeric) if column in raw else pd.Series(0, index=frame.index)
        frame[column] = values.astype(np.int64)
    if not frame["is_fraud"].isin((0, 1)).all():
        raise DataFileError(f"{path}: is_fraud must be 0 or 1 (line {_first_line(~frame.is_fraud.isin((0, 1)))})")
    return frame


def _column(raw: pd.DataFrame, column: str, path: Path, convert) -> pd.Series:
    try:
        return convert(raw[column])
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFileError(f"{path}: bad {column} value ({reason})") from None


def _first_line(mask: pd.Series) -> int:
    """The 1-based file line of the first True row (line 1 is the header)."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 2


def write_transactions(df: pd.DataFrame, path: str | Path) -> None:
    """Write a transaction table as CSV: timestamps ISO 8601 with +00:00, amounts with 2 decimals."""
    out = pd.DataFrame(index=df.index)
    for column in TRANSACTION_COLUMNS:
        if column == "timestamp":
            out[column] = _iso_utc(df[column])
        elif column == "amount":
            out[column] = df[column].astype(np.float64)
        elif column in df:
            out[column] = df[column]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # amount is the only float column, so the float format gives it exactly two decimals.
    out.to_csv(path, index=False, float_format="%.2f")


def _iso_utc(timestamps: pd.Series) -> pd.Series:
    utc = pd.to_datetime(timestamps, utc=True)
    has_fraction = bool((utc.dt.microsecond != 0).any())
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00" if has_fraction else "%Y-%m-%dT%H:%M:%S+00:00")
