"""The status table as CSV or XLSX, for staff who keep working in spreadsheets.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with an apostrophe: a
participant code or a note typed by someone must never execute on a monitor's
machine (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    *,
    headers: Sequence[str] | None = None,
) -> Iterator[str]:
    """Yield the CSV text line by line (streamed: 100k rows never sit in memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers or columns)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(row.get(c)) for c in columns])
        yield buffer.getvalue()


#: How XLSX shows the cells that are dates or moments (UTC, said in the column header).
_DATE_FORMAT = "yyyy-mm-dd"
_TIME_FORMAT = "yyyy-mm-dd hh:mm"
#: Bytes handed to the response at a time.
_CHUNK = 64 * 1024


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """Return a date or moment as a real spreadsheet date cell, anything else as text."""
    if isinstance(value, datetime):
        # Excel has no time zones: the moment in UTC, which the header says.
        cell = WriteOnlyCell(sheet, value.astimezone(UTC).replace(tzinfo=None))
        cell.number_format = _TIME_FORMAT
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = _DATE_FORMAT
        return cell
    return _cell(value)


def xlsx_chunks(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    *,
    title: str,
    headers: Sequence[str] | None = None,
) -> Iterator[bytes]:
    """Yield an XLSX workbook of the rows, in chunks, in constant memory.

    openpyxl's write-only mode streams the sheet to a temporary file; the
    finished workbook is read back from a temporary file too, so neither the
    rows nor the file sit in memory. Dates and moments are date cells (moments
    in UTC); the header row is frozen and carries the filter buttons.
    ``headers`` are the column titles (the column names by default).
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    titles = []
    for text in headers or columns:
        cell = WriteOnlyCell(sheet, text)
        cell.font = bold
        titles.append(cell)
    sheet.append(titles)
    count = 0
    for row in rows:
        sheet.append([_xlsx_cell(sheet, row.get(c)) for c in columns])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(columns), 1))}{count + 1}"
    with tempfile.TemporaryFile() as out:
        book.save(out)
        out.seek(0)
        while chunk := out.read(_CHUNK):
            yield chunk


def xlsx_bytes(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, title: str) -> bytes:
    """Return an XLSX workbook of the rows as one block (for small tables)."""
    return b"".join(xlsx_chunks(rows, columns, title=title))
