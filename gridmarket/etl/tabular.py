"""Reading the tabular files users have: CSV (UTF-8 with or without BOM, GBK/GB18030) and XLSX.

:func:`read_table` reads the header, maps its column names (English or Chinese, any case and
spacing) to canonical keys and returns a :class:`Table`. Iterating the table streams the rows as
``(row_number, {key: value})`` where ``row_number`` is the number Excel shows for the row (the
header is row 1, the first data row 2); completely empty rows are skipped but still counted.
Nothing holds the whole file in memory, and a table can be iterated more than once (each pass
re-opens the file), so an importer can validate in one pass and write in a second.

Encodings (CSV): with ``encoding=None`` a file starting with the UTF-8 BOM is UTF-8; otherwise the
whole file is checked as strict UTF-8 (a streaming pass, no decoding kept) and, if that fails, read
as GB18030 (a superset of GBK, what Chinese Excel writes as "CSV"). A byte that does not decode
raises :class:`TableError` naming the byte offset in the file and the row.

Values: CSV cells are stripped strings, an empty cell is None. XLSX cells keep their type (numbers
stay numbers, booleans booleans); dates come as ``datetime.date`` (a date-time at midnight too),
strings are stripped, empty cells are None.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridmarket.grids.errors import ValidationFailed

__all__ = ["Row", "Table", "TableError", "normalize_header", "read_table"]

Row = tuple[int, dict[str, Any]]
"""One data row: the row number Excel shows and the values by canonical key."""

_BOM = codecs.BOM_UTF8
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls
_SCAN_CHUNK = 1 << 20
_DELIMITERS = (",", "\t", ";")
_DROP = str.maketrans("", "", " \t\r\n\u3000\u00a0_*")


class TableError(ValidationFailed):
    """A file that cannot be read as a table; ``row`` and ``offset`` say where, when known."""

    def __init__(
        self, message: str, field: str | None = None, *, row: int | None = None, offset: int | None = None
    ) -> None:
        super().__init__(message, field)
        self.row = row
        self.offset = offset


def normalize_header(name: str) -> str:
    """Fold a column name for matching: NFKC, case-folded, without spaces, underscores and ``*``."""
    return unicodedata.normalize("NFKC", name).casefold().translate(_DROP)


@dataclass
class Table:
    """A tabular file whose header has been read; iterate it for ``(row_number, values)``.

    ``columns`` are the canonical keys found, in file order; ``header`` the names as written;
    ``unknown`` the names that matched no key (ignored, listed in ``warnings``). Every row dict
    holds every canonical key of the ``headers`` mapping, None where the file has no such column.
    """

    path: Path
    format: str  # "csv" or "xlsx"
    encoding: str | None  # of a CSV file; None for XLSX
    header_row: int
    header: list[str]
    columns: list[str]
    unknown: list[str]
    keys: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    _index: list[tuple[int, str]] = field(default_factory=list, repr=False)
    _delimiter: str = ","

    def __iter__(self) -> Iterator[Row]:
        """Stream the data rows (re-opening the file on every pass)."""
        return self.rows()

    def rows(self) -> Iterator[Row]:
        """Stream the data rows as ``(row_number, values)``; empty rows are skipped."""
        raw = self._xlsx_records() if self.format == "xlsx" else self._csv_records()
        for number, record in raw:
            if number <= self.header_row:
                continue
            if not any(_present(v) for v in record):
                continue
            values: dict[str, Any] = dict.fromkeys(self.keys)
            width = len(record)
            for pos, key in self._index:
                if pos < width:
                    values[key] = _clean(record[pos])
            yield number, values

    def _csv_records(self) -> Iterator[tuple[int, list[Any]]]:
        assert self.encoding is not None
        return _csv_records(self.path, self.encoding, self._delimiter)

    def _xlsx_records(self) -> Iterator[tuple[int, list[Any]]]:
        return _xlsx_records(self.path)


def read_table(
    path: str | Path,
    *,
    headers: Mapping[str, str],
    encoding: str | None = None,
    required: Collection[str] = (),
) -> Table:
    """Open a CSV or XLSX file, read and map its header; return a :class:`Table` to iterate.

    ``headers`` maps accepted column names (English or Chinese) to canonical keys; the keys
    themselves are accepted as names too, and matching ignores case, spaces, underscores and
    full-/half-width differences. ``encoding`` (CSV only) forces an encoding; None detects it
    (UTF-8 with or without BOM, else GB18030). ``required`` keys must have a column.

    Raises :class:`TableError` (a :class:`ValidationFailed`) for a missing or unreadable file, an
    old ``.xls`` file, an undecodable byte, an empty file, two columns mapping to the same key,
    or a missing required column. Unknown columns are only listed in ``Table.warnings``.
    """
    p = Path(path)
    if not p.is_file():
        raise TableError(f"no such file: {p}", "path")
    with p.open("rb") as f:
        magic = f.read(8)
    keys = tuple(dict.fromkeys(headers.values()))
    lookup: dict[str, str] = {}
    for alias, canonical in [*((k, k) for k in keys), *headers.items()]:
        lookup.setdefault(normalize_header(alias), canonical)
    warnings: list[str] = []
    if magic.startswith(_OLE_MAGIC) or p.suffix.lower() == ".xls":
        raise TableError(f"{p.name}: old binary Excel (.xls) is not read; save it as .xlsx or CSV", "path")
    if magic.startswith(_ZIP_MAGIC):
        fmt, enc, delimiter = "xlsx", None, ","
        if encoding:
            warnings.append(f"encoding {encoding!r} ignored: {p.name} is an XLSX workbook")
        records: Iterator[tuple[int, list[Any]]] = _xlsx_records(p)
    else:
        fmt = "csv"
        enc = _resolve_encoding(encoding) if encoding else _detect_encoding(p)
        delimiter = _sniff_delimiter(p, enc)
        records = _csv_records(p, enc, delimiter)
    try:
        for number, record in records:
            if any(_present(v) for v in record):
                header_row, names = number, ["" if v is None else str(v).strip() for v in record]
                break
        else:
            raise TableError(f"{p.name} is empty: no header row", "header")
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
    index: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for pos, name in enumerate(names):
        if not name:
            continue
        key = lookup.get(normalize_header(name))
        if key is None:
            unknown.append(name)
            continue
        if key in seen:
            raise TableError(
                f"columns {seen[key]!r} and {name!r} both mean {key!r}: keep one of them", key, row=header_row
            )
        seen[key] = name
        index.append((pos, key))
    if unknown:
        warnings.append("unknown columns ignored: " + ", ".join(unknown))
    missing = [k for k in required if k not in seen]
    if missing:
        names_for = {k: [n for n, v in headers.items() if v == k] for k in missing}
        text = "; ".join(f"{k} ({' / '.join(names_for[k])})" if names_for[k] else k for k in missing)
        raise TableError(f"missing required column(s): {text}", missing[0], row=header_row)
    return Table(
        path=p,
        format=fmt,
        encoding=enc,
        header_row=header_row,
        header=names,
        columns=[k for _, k in index],
        unknown=unknown,
        keys=keys,
        warnings=warnings,
        _index=index,
        _delimiter=delimiter,
    )


# ------------------------------------------------------------------------------------------------
# values
# ------------------------------------------------------------------------------------------------


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip())


def _clean(v: Any) -> Any:
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, dt.datetime):
        return v.date() if v.time() == dt.time(0) and v.tzinfo is None else v
    return v


# ------------------------------------------------------------------------------------------------
# CSV
# ------------------------------------------------------------------------------------------------


def _resolve_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise TableError(f"unknown encoding {name!r}", "encoding") from None


def _detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the file starts with the BOM, ``utf-8`` when it is valid UTF-8 throughout,
    else ``gb18030``."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with path.open("rb") as f:
        first = True
        while chunk := f.read(_SCAN_CHUNK):
            if first and chunk.startswith(_BOM):
                return "utf-8-sig"
            first = False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "gb18030"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


class _Lines:
    """Physical lines of a file decoded one by one, so a bad byte is found exactly.

    Splitting on ``\\n`` before decoding is safe for UTF-8 and GBK/GB18030 (no multi-byte sequence
    contains the byte 0x0A). ``record`` is set by the reader to the row being read, for errors.
    """

    def __init__(self, f: Iterable[bytes], encoding: str, name: str) -> None:
        self.f = f
        self.encoding = encoding
        self.name = name
        self.offset = 0
        self.record = 1
        self.first = True

    def __iter__(self) -> Iterator[str]:
        for line in self.f:
            start = self.offset
            self.offset += len(line)
            if self.first:
                self.first = False
                if line.startswith(_BOM) and self.encoding in ("utf-8-sig", "utf-8", "utf_8"):
                    line = line[len(_BOM) :]
                    start += len(_BOM)
            try:
                yield line.decode(self.encoding)
            except UnicodeDecodeError as e:
                bad = line[e.start : e.start + 4].hex(" ")
                raise TableError(
                    f"{self.name}: row {self.record}: byte {start + e.start} (0x{bad}) is not valid "
                    f"{self.encoding}; give the file's encoding (e.g. utf-8 or gb18030)",
                    "encoding",
                    row=self.record,
                    offset=start + e.start,
                ) from None


def _csv_records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[Any]]]:
    with path.open("rb") as f:
        lines = _Lines(f, encoding, path.name)
        reader = csv.reader(lines, delimiter=delimiter)
        number = 0
        while True:
            lines.record = number + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise TableError(f"{path.name}: row {number + 1}: {e}", "file", row=number + 1) from None
            number += 1
            yield number, list(record)


def _sniff_delimiter(path: Path, encoding: str) -> str:
    """Comma, unless the first non-empty line has more tabs or semicolons than commas."""
    with path.open("rb") as f:
        for raw in f:
            try:
                line = raw.decode(encoding, errors="replace")
            except LookupError:  # pragma: no cover - encoding resolved before
                return ","
            if line.strip():
                counts = {d: line.count(d) for d in _DELIMITERS}
                best = max(_DELIMITERS, key=lambda d: counts[d])
                return best if counts[best] > counts[","] else ","
    return ","


# ------------------------------------------------------------------------------------------------
# XLSX
# ------------------------------------------------------------------------------------------------


def _xlsx_records(path: Path) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zipfile.BadZipFile, KeyError, openpyxl's InvalidFileException …
        raise TableError(f"{path.name}: not a readable XLSX workbook ({e})", "file") from None
    try:
        ws = wb.worksheets[0]
        reset = getattr(ws, "reset_dimensions", None)
        if reset is not None:  # files from other tools often carry a wrong dimension
            reset()
        for number, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
            yield number, list(values)
    finally:
        wb.close()
