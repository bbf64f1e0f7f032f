"""Reading the CSV tables that describe data sets (metadata, manifests, LoadData tables).

Public copies of the same table differ in quoting, float formatting and line endings (LF, CRLF or
old-Mac CR only), and some are gzipped (`.csv.gz`, as the JUMP metadata): all are accepted.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from phenbench.core.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"


def read_csv_any_newline(path: str | Path, *, what: str, fix: str = "check the path") -> pd.DataFrame:
    """Read a CSV whatever its line endings (LF, CRLF or CR), quoting and gzip compression."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"The {what} {path} is missing; {fix}.") from None
    except IsADirectoryError:
        raise DataError(f"The {what} {path} is a folder; give the CSV file itself.") from None
    try:
        text = (gzip.decompress(data) if data[:2] == GZIP_MAGIC else data).decode("utf-8-sig")
    except (UnicodeDecodeError, OSError, EOFError):
        raise DataError(f"The {what} {path} is not a UTF-8 text CSV; export it again as CSV.") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"The {what} {path} is not a readable CSV ({exc}).") from None


def require_columns(table: pd.DataFrame, columns: Sequence[str], path: str | Path, what: str, fix: str = "") -> None:
    """Refuse a table without one of `columns`, naming the missing ones and the ones it has."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(
            f"The {what} {path} lacks the column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, table.columns))}." + (f" {fix}" if fix else "")
        )
