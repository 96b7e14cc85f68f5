"""Member import from CSV or XLSX (command line and admin page).

A file is read completely, every row is checked, and only then is anything written: a file
with any bad row imports nothing unless `skip_invalid` is asked for. Checks: organisation code
known (and inside the admin's subtree on the page), name, national ID (shape, birth date,
GB 11643 check digit), phone, category, duplicates inside the file and against the database.
Good rows go in with one COPY stream inside the caller's single transaction, so a failure
half-way leaves nothing behind; one audit entry records who imported which file and the counts.
"""
from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterable, Iterator, Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
import openpyxl
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import clock, spreadsheets
from ..audit import service as audit
from ..errors import Conflict, ValidationError
from ..extensions import db
from ..orgs.models import Organisation
from ..pii import InvalidIdNumber, make_id_number, mask_id_number, normalise_id_number, normalise_phone
from .models import Member

Progress = Callable[[int], None]

# Header spellings accepted for each column (compared lower-cased, spaces/underscores removed).
COLUMNS: dict[str, tuple[str, ...]] = {
    "org_code": ("orgcode", "organisationcode", "organizationcode", "org", "组织代码", "工会代码", "组织编码", "单位代码"),
    "name": ("name", "姓名"),
    "id_number": ("idnumber", "nationalid", "身份证号", "身份证号码", "公民身份号码"),
    "phone": ("phone", "mobile", "手机号", "手机号码", "电话"),
    "category": ("category", "类别", "会员类别", "人员类别"),
}
REQUIRED = ("org_code", "name", "id_number", "category")
TEMPLATE_HEADER = ("组织代码", "姓名", "身份证号", "手机号", "类别")

CATEGORY_NAMES = {
    "ordinary": "ordinary", "普通": "ordinary", "普通职工": "ordinary", "普通会员": "ordinary",
    "hardship": "hardship", "困难职工": "hardship", "困难": "hardship",
    "retiree": "retiree", "退休": "retiree", "退休职工": "retiree",
    "model_worker": "model_worker", "modelworker": "model_worker", "劳模": "model_worker",
    "劳动模范": "model_worker",
}

# What each row error's reason code says to a person (the page and the command line).
REASONS = {
    "org_code_missing": _l("缺少组织代码"),
    "org_unknown": _l("没有这个组织代码"),
    "org_out_of_scope": _l("该组织不在您的管辖范围内"),
    "name_invalid": _l("姓名为空或超过64个字"),
    "phone_invalid": _l("手机号应为11位大陆手机号"),
    "category_unknown": _l("类别应为：普通、困难职工、退休、劳模"),
    "already_member": _l("该身份证号已是会员"),
}

# XLSX guards: a zip whose entries inflate more than this many times over is treated as a bomb.
BATCH = 5000


class ImportRefused(ValidationError):
    """The whole file is unusable (format, size, header, row cap); no row was looked at."""
    code = "import_refused"


@dataclass(frozen=True)
class RowError:
    row: int          # spreadsheet row number: the header is row 1
    column: str
    reason: str       # stable code, e.g. id_number_check_digit
    message: str
    value: str = ""   # what was in the cell, PII masked


@dataclass
class ImportReport:
    file_name: str
    total_rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_rows: int = 0

    @property
    def refused(self) -> bool:
        """True when nothing was imported because the file had errors."""
        return self.imported == 0 and self.error_rows > 0

    @property
    def skipped(self) -> int:
        return self.error_rows if self.imported else 0


@dataclass
class _Row:
    row: int
    org_code: str
    name: str
    id_number: str
    phone: str | None
    category: str
    org_id: int | None = None
    org_path: str = ""


# ---------------------------------------------------------------- reading files

def read_table(file_name: str, data: bytes, *, max_uncompressed: int,
               max_rows: int | None = None) -> list[tuple[int, list[str]]]:
    """All non-empty rows as (row number, cells as text), header first. CSV or XLSX by name.

    With `max_rows`, reading stops at the first data row beyond it and the file is refused: a
    web upload of a huge workbook costs the rows up to the cap, not the whole sheet (measured
    on a 4.6 MB, 165,000-row workbook: see docs/security.md)."""
    lower = file_name.lower()
    if lower.endswith(".csv"):
        rows = _read_csv(data)
    elif lower.endswith(".xlsx"):
        rows = _read_xlsx(data, max_uncompressed)
    else:
        raise ImportRefused(_("只能导入 .csv 或 .xlsx 文件。"), code="unsupported_file_type")
    return _capped(rows, max_rows)


def _capped(rows: Iterator[tuple[int, list[str]]], max_rows: int | None) -> list[tuple[int, list[str]]]:
    table = []
    with contextlib.closing(rows):  # stopping early closes the workbook at once
        for row in rows:
            table.append(row)
            if max_rows is not None and len(table) > max_rows + 1:   # the header and one row too many
                raise ImportRefused(_("文件超过 %(n)s 行；一次最多导入 %(n)s 行。", n=max_rows),
                                    code="too_many_rows", details={"max_rows": max_rows})
    return table


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves CSV as GB18030 (GBK); everything else is UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:  # PostgreSQL text cannot hold NUL; no spreadsheet writes one into a CSV
            raise ImportRefused(_("CSV 文件含有空字符（NUL），不是文本文件。"), code="bad_csv")
        return text
    raise ImportRefused(_("CSV 文件编码无法识别，请保存为 UTF-8 或 GBK。"), code="bad_encoding")


def _read_csv(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(_decode(data), newline="")), start=1):
            if any(c.strip() for c in cells):
                yield number, [c.strip() for c in cells]
    except csv.Error:
        raise ImportRefused(_("CSV 文件无法读取。"), code="bad_csv") from None


def check_xlsx_archive(data: bytes, max_uncompressed: int) -> None:
    try:
        spreadsheets.check_xlsx_archive(data, max_uncompressed)
    except spreadsheets.UnsafeSpreadsheet as exc:
        raise ImportRefused(str(exc), code=exc.code) from None


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)  # an 18-digit ID stored as a number has lost digits: it will fail checks
    return str(value).strip()


def _read_xlsx(data: bytes, max_uncompressed: int) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's non-empty rows, read one at a time (openpyxl's read-only mode streams
    the sheet), so that the caller can stop early."""
    check_xlsx_archive(data, max_uncompressed)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged workbook
        raise ImportRefused(_("XLSX 工作簿无法读取。"), code="bad_xlsx") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            if any(cells):
                yield number, cells
    except ImportRefused:
        raise
    except Exception:  # a damaged sheet shows only when its rows are read
        raise ImportRefused(_("XLSX 工作簿无法读取。"), code="bad_xlsx") from None
    finally:
        workbook.close()


def _header_key(text: str) -> str:
    return text.strip().lower().replace(" ", "").replace("_", "").replace("-", "")


def column_name(column: str, columns: dict[str, tuple[str, ...]] = COLUMNS) -> str:
    """A column as people name it: its first Chinese spelling (组织代码, 身份证号 …)."""
    return next((alias for alias in columns.get(column, ()) if not alias.isascii()), column)


def map_header(cells: Sequence[str], columns: dict[str, tuple[str, ...]] = COLUMNS,
               required: Sequence[str] = REQUIRED) -> dict[str, int]:
    """Column → its position, from the header row's names (any spelling in `columns`, compared
    lower-cased without spaces, underscores or hyphens). Every import names its own columns."""
    wanted = {alias: column for column, aliases in columns.items() for alias in aliases}
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        column = wanted.get(_header_key(cell))
        if column and column not in positions:
            positions[column] = index
    missing = [c for c in required if c not in positions]
    if missing:
        names = "、".join(column_name(c, columns) for c in missing)
        raise ImportRefused(_("第一行须为列名，缺少：%(names)s。", names=names),
                            code="missing_columns", details={"missing": missing})
    return positions


# ---------------------------------------------------------------- checking rows

def id_number_reason(exc: InvalidIdNumber) -> str:
    """The stable reason code of an ID number `pii.normalise_id_number` refused (every import's)."""
    return exc.reason


def _row_error(row: int, column: str, reason: str, value: str = "") -> RowError:
    return RowError(row, column, reason, str(REASONS[reason]), value)


def _parse_row(number: int, cells: list[str], positions: dict[str, int]) -> tuple[_Row | None, list[RowError]]:
    def cell(column: str) -> str:
        index = positions.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    errors: list[RowError] = []
    org_code, name, raw_id, raw_phone, raw_category = (
        cell("org_code"), cell("name"), cell("id_number"), cell("phone"), cell("category"))
    if not org_code:
        errors.append(_row_error(number, "org_code", "org_code_missing"))
    if not name or len(name) > 64:
        errors.append(_row_error(number, "name", "name_invalid", name[:64]))
    id_number = ""
    try:
        id_number = normalise_id_number(raw_id)
    except InvalidIdNumber as exc:
        errors.append(RowError(number, "id_number", id_number_reason(exc), str(exc),
                               mask_id_number(raw_id)))
    phone = None
    try:
        phone = normalise_phone(raw_phone)
    except ValueError:
        errors.append(_row_error(number, "phone", "phone_invalid", raw_phone[:3] + "…" if raw_phone else ""))
    category = CATEGORY_NAMES.get(raw_category.strip().lower().replace(" ", ""))
    if category is None:
        errors.append(_row_error(number, "category", "category_unknown", raw_category[:20]))
    if errors:
        return None, errors
    return _Row(number, org_code, name, id_number, phone, category), []


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _organisations(codes: Iterable[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted(set(codes)), 900):
        for code, org_id, path in db.session.execute(
                select(Organisation.code, Organisation.id, Organisation.path).where(Organisation.code.in_(chunk))):
            found[code] = (org_id, path)
    return found


def _existing_id_numbers(id_numbers: Sequence[str]) -> set[str]:
    existing: set[str] = set()
    for chunk in _chunks(id_numbers, 900):
        existing.update(db.session.scalars(select(Member.id_number).where(Member.id_number.in_(chunk))))
    return existing


def check_rows(table: list[tuple[int, list[str]]], scope: Organisation | None,
               progress: Progress | None = None) -> tuple[list[_Row], list[RowError], int]:
    """(good rows, errors, number of data rows). `table` starts with the header row."""
    positions = map_header(table[0][1])
    good: list[_Row] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for n, (number, cells) in enumerate(table[1:], start=1):
        row, row_errors = _parse_row(number, cells, positions)
        errors.extend(row_errors)
        if row is not None:
            if row.id_number in first_row_of:
                errors.append(RowError(number, "id_number", "duplicate_in_file",
                                       _("与第 %(n)s 行的身份证号重复", n=first_row_of[row.id_number]),
                                       mask_id_number(row.id_number)))
            else:
                first_row_of[row.id_number] = number
                good.append(row)
        if progress and n % 1000 == 0:
            progress(1000)
    if progress:
        progress((len(table) - 1) % 1000)

    orgs = _organisations(r.org_code for r in good)
    existing = _existing_id_numbers([r.id_number for r in good])
    kept: list[_Row] = []
    for row in good:
        org = orgs.get(row.org_code)
        if org is None:
            errors.append(_row_error(row.row, "org_code", "org_unknown", row.org_code[:32]))
        elif scope is not None and not org[1].startswith(scope.path):
            errors.append(_row_error(row.row, "org_code", "org_out_of_scope", row.org_code[:32]))
        elif row.id_number in existing:
            errors.append(_row_error(row.row, "id_number", "already_member", mask_id_number(row.id_number)))
        else:
            row.org_id, row.org_path = org
            kept.append(row)
    errors.sort(key=lambda e: e.row)
    return kept, errors, len(table) - 1


# ---------------------------------------------------------------- writing

def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[Sequence], progress: Progress | None = None,
                batch: int = BATCH) -> int:
    """COPY plain tuples into `table` on the session's connection (same transaction), reporting
    progress every `batch` rows. Returns the row count.
    """
    count = 0
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
                if progress and count % batch == 0:
                    progress(batch)
    if progress:
        progress(count % batch)
    return count


MEMBER_COLUMNS = ("org_id", "name", "id_number", "phone", "category", "status", "joined_on", "created_at")


def _insert_members(rows: list[_Row], joined_on: date, progress: Progress | None) -> int:
    created = clock.now()
    try:
        with db.session.begin_nested():
            return bulk_insert("members", MEMBER_COLUMNS,
                               ((r.org_id, r.name, r.id_number, r.phone, r.category, "active", joined_on, created)
                                for r in rows), progress)
    except IntegrityError:
        # Someone added one of these members between our check and the insert.
        raise Conflict(_("导入期间有人添加了相同的会员，本次未导入任何数据。"),
                       code="duplicate_member") from None


def _common_org_id(paths: Iterable[str]) -> int | None:
    """The lowest organisation containing every path (where the audit entry is filed)."""
    common: list[str] | None = None
    for path in paths:
        parts = path.strip("/").split("/")
        if common is None:
            common = parts
        else:
            n = 0
            while n < min(len(common), len(parts)) and common[n] == parts[n]:
                n += 1
            common = common[:n]
    return int(common[-1]) if common else None


def import_members(actor, file_name: str, data: bytes, *, scope: Organisation | None = None,
                   skip_invalid: bool = False, max_rows: int | None = None, max_uncompressed: int,
                   on_stage: Callable[[str, int], Progress | None] | None = None) -> ImportReport:
    """Check the whole file, then insert the good rows (flushes, never commits).

    `scope`: an admin's union; rows for organisations outside it are errors.
    `on_stage(stage, total)` may return a progress callback for the stage ("check", "insert").
    """
    table = read_table(file_name, data, max_uncompressed=max_uncompressed, max_rows=max_rows)
    if not table:
        raise ImportRefused(_("文件是空的。"), code="empty_file")
    if len(table) < 2:
        raise ImportRefused(_("文件中没有会员数据。"), code="empty_file")
    rows, errors, total = check_rows(table, scope, on_stage("check", len(table) - 1) if on_stage else None)
    report = ImportReport(file_name=file_name, total_rows=total, errors=errors,
                          error_rows=len({e.row for e in errors}))
    if (errors and not skip_invalid) or not rows:
        return report
    report.imported = _insert_members(rows, clock.business_day(), on_stage("insert", len(rows)) if on_stage else None)
    audit.record(actor, "member.import", "import", None,
                 org_id=scope.id if scope is not None else _common_org_id({r.org_path for r in rows}),
                 after={"file": file_name[:200], "rows": total, "imported": report.imported,
                        "skipped": report.skipped})
    return report


def template_csv() -> str:
    """The header and two example rows, for the page's template download."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(("341602001", "张三", make_id_number("341602", date(1985, 6, 15), 177), "13800001234", "普通"))
    writer.writerow(("341602001", "李四", make_id_number("341602", date(1979, 1, 1), 2), "", "困难职工"))
    return "\ufeff" + out.getvalue()
