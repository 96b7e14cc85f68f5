"""The social-insurance file and the bank's return file, read through the import mechanism the
member import has (`members.importing`: `read_table` for CSV/XLSX with its size, row-cap,
encoding and XLSX guards, `map_header`, `RowError`, `ImportRefused`, and `bulk_insert`'s COPY).

Every row is checked before anything is written, and each bad row is reported with its row
number (the header is row 1), the column and a reason code with its Chinese sentence:
- insurance rows: the national ID number (`pii.normalise_id_number`: length, shape, birth date,
  GB 11643 check digit — the member import's validator), the name, the year (the programme's),
  the out-of-pocket amount (yuan, at most two decimals, not negative), the same ID number twice;
- return rows: the reference (a payout of this programme), the result (paid or failed), the
  reason of a failure, the same reference twice, a result that contradicts an earlier return.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from ..members.importing import ImportRefused, RowError, id_number_reason, map_header, read_table
from ..pii import InvalidIdNumber, mask_id_number, normalise_id_number
from . import rules

Progress = Callable[[int], None]

CLAIM_COLUMNS: dict[str, tuple[str, ...]] = {
    "id_number": ("idnumber", "nationalid", "身份证号", "身份证号码", "公民身份号码", "证件号码"),
    "name": ("name", "姓名"),
    "year": ("year", "年度", "年份", "结算年度"),
    "amount": ("outofpocket", "outofpocketyuan", "amount", "个人自付", "自付金额", "个人自付金额", "自付费用",
               "自付金额（元）", "自付金额(元)", "个人自付金额（元）", "个人自付金额(元)"),
}
CLAIM_TEMPLATE_HEADER = ("身份证号", "姓名", "年度", "自付金额（元）")
RETURN_COLUMNS: dict[str, tuple[str, ...]] = {
    "reference": ("reference", "业务参考号", "参考号", "流水号", "业务编号"),
    "result": ("result", "status", "结果", "状态", "处理结果", "入账结果"),
    "reason": ("reason", "失败原因", "原因", "备注"),
}

REASONS = {
    "id_number_length": "身份证号应为18位",
    "id_number_shape": "身份证号应为17位数字加一位数字或X",
    "id_number_birth_date": "身份证号中的出生日期不存在",
    "id_number_check_digit": "身份证号校验位错误",
    "id_number_invalid": "身份证号无效",
    "name_invalid": "姓名为空、超过64个字或含控制字符",
    "year_wrong": "年度与本项目不符",
    "amount_negative": "自付金额不能为负数",
    "amount_invalid": "自付金额应为金额（元），最多两位小数",
    "duplicate_in_file": "与文件中前面的行身份证号重复",
    "reference_missing": "缺少业务参考号",
    "unknown_reference": "没有这个业务参考号的发放记录",
    "duplicate_reference": "与文件中前面的行业务参考号重复",
    "result_unknown": "结果应为“成功”或“失败”",
    "reason_missing": "失败的行须写明失败原因",
    "reason_too_long": "失败原因最多255个字，且不能含控制字符",
    "already_returned": "这笔发放已按另一结果回盘，不能更改",
}


def _error(row: int, column: str, reason: str, value: str = "") -> RowError:
    return RowError(row, column, reason, REASONS[reason], value)


def _table(file_name: str, data: bytes, max_rows: int | None, max_uncompressed: int, what: str):
    table = read_table(file_name, data, max_uncompressed=max_uncompressed, max_rows=max_rows)
    if len(table) < 2:
        raise ImportRefused(f"文件中没有{what}。", code="empty_file")
    return table


def _positions(header: list[str], columns: dict[str, tuple[str, ...]], required: tuple[str, ...],
               names: str) -> dict[str, int]:
    try:
        return map_header(header, columns, required)
    except ImportRefused as exc:
        raise ImportRefused(f"第一行须为列名：{names}。", code=exc.code, details=exc.details) from None


# --- the social-insurance file ---------------------------------------------------------------------

class ClaimRow(NamedTuple):      # a tuple: built once per row of files of 473,216 rows
    row: int
    id_number: str
    name: str
    out_of_pocket_fen: int


@dataclass
class ClaimCheck:
    rows: list[ClaimRow]
    errors: list[RowError]
    total_rows: int

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def read_claims(file_name: str, data: bytes, year: int, *, max_rows: int | None, max_uncompressed: int,
                on_stage: Callable[[str, int], Progress | None] | None = None) -> ClaimCheck:
    """Every row of an insurance file checked: the good rows and an error for each problem.
    `on_stage("check", rows)` may return a progress callback."""
    table = _table(file_name, data, max_rows, max_uncompressed, "医保数据")
    progress = on_stage("check", len(table) - 1) if on_stage else None
    positions = _positions(table[0][1], CLAIM_COLUMNS, tuple(CLAIM_COLUMNS), "身份证号、姓名、年度、自付金额（元）")
    i_id, i_name, i_year, i_amount = (positions[c] for c in ("id_number", "name", "year", "amount"))
    width = max(positions.values()) + 1
    wanted_year = str(year)
    rows: list[ClaimRow] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    append, fail = rows.append, errors.append
    for n, (number, cells) in enumerate(table[1:], start=1):
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        raw_id, name, raw_year, raw_amount = cells[i_id], cells[i_name], cells[i_year], cells[i_amount]
        ok = True
        try:
            id_number = normalise_id_number(raw_id)
        except InvalidIdNumber as exc:
            fail(_error(number, "id_number", id_number_reason(exc), mask_id_number(raw_id)))
            ok = False
        if not name or len(name) > 64 or not name.isprintable():
            fail(_error(number, "name", "name_invalid", name[:1] + "…" if name else ""))
            ok = False
        if raw_year != wanted_year:
            fail(_error(number, "year", "year_wrong", raw_year[:10]))
            ok = False
        try:
            fen = rules.out_of_pocket_fen(raw_amount)
        except rules.BadAmount as exc:
            fail(_error(number, "amount", exc.reason, raw_amount[:20]))
            ok = False
        if ok:
            first = first_row_of.setdefault(id_number, number)
            if first != number:
                fail(RowError(number, "id_number", "duplicate_in_file", f"与第 {first} 行身份证号重复",
                              mask_id_number(id_number)))
            else:
                append(ClaimRow(number, id_number, name, fen))
        if progress and n % 10_000 == 0:
            progress(10_000)
    if progress:
        progress((len(table) - 1) % 10_000)
    return ClaimCheck(rows, errors, len(table) - 1)


# --- the bank's return file ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnRow:
    row: int
    reference: str
    result: str                 # paid | failed
    reason: str | None


@dataclass
class ReturnCheck:
    rows: list[ReturnRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_rows: int = 0


def read_returns(file_name: str, data: bytes, *, max_rows: int | None, max_uncompressed: int) -> ReturnCheck:
    """A return file's rows, each checked on its own (whether its reference names a payout is
    the reconciliation's question)."""
    table = _table(file_name, data, max_rows, max_uncompressed, "回盘数据")
    positions = _positions(table[0][1], RETURN_COLUMNS, ("reference", "result"), "业务参考号、结果、失败原因")
    check = ReturnCheck(total_rows=len(table) - 1)
    first_row_of: dict[str, int] = {}

    def cell(cells: list[str], column: str) -> str:
        index = positions.get(column)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    for number, cells in table[1:]:
        reference, raw_result, reason = cell(cells, "reference"), cell(cells, "result"), cell(cells, "reason")
        ok = True
        if not reference:
            check.errors.append(_error(number, "reference", "reference_missing"))
            ok = False
        elif reference in first_row_of:
            check.errors.append(RowError(number, "reference", "duplicate_reference",
                                         f"与第 {first_row_of[reference]} 行业务参考号重复", reference[:32]))
            ok = False
        else:
            first_row_of[reference] = number
        result = rules.return_result(raw_result)
        if result is None:
            check.errors.append(_error(number, "result", "result_unknown", raw_result[:20]))
            ok = False
        elif result == "failed" and not reason:
            check.errors.append(_error(number, "reason", "reason_missing"))
            ok = False
        elif result == "failed" and (len(reason) > 255 or not reason.isprintable()):
            check.errors.append(_error(number, "reason", "reason_too_long", reason[:20]))
            ok = False
        if ok:
            check.rows.append(ReturnRow(number, reference, result, reason if result == "failed" else None))
    return check


def reference_error(row: ReturnRow, reason: str) -> RowError:
    return _error(row.row, "reference", reason, row.reference[:32])
