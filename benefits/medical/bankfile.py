"""Files written for people outside the app: the payout file for the card's bank (CSV or XLSX:
card number, the member's masked name, amount in yuan, reference), the insurance file's
template, and the union's totals as CSV. Every text cell is escaped against formula injection
(`spreadsheets.safe_cell`); amounts are printed from fen at this edge only (`money.format_yuan`)."""
from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import Workbook

from ..money import format_yuan
from ..pii import make_id_number
from ..prizes.rules import mask_name
from ..spreadsheets import safe_cell

PAYOUT_HEADER = ("卡号", "姓名", "金额（元）", "业务参考号")
TOTALS_HEADER = ("年度", "组织代码", "组织", "已到账人数", "已到账金额（元）", "发放中人数", "发放中金额（元）")


def _payout_rows(lines) -> list[list[str]]:
    return [[safe_cell(card), safe_cell(mask_name(name)), format_yuan(fen), safe_cell(reference)]
            for card, name, fen, reference in lines]


def _csv(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def payout_csv(lines) -> bytes:
    """UTF-8 with a byte-order mark (Excel on Chinese Windows opens it as such)."""
    return _csv(PAYOUT_HEADER, _payout_rows(lines))


def payout_xlsx(lines) -> bytes:
    """One sheet; card numbers and references as text, so no spreadsheet turns them into numbers."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("发放明细")
    sheet.append(PAYOUT_HEADER)
    for row in _payout_rows(lines):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def claims_template_csv(year: int) -> bytes:
    """The insurance file's columns with two made-up example rows (valid ID numbers)."""
    return _csv(("身份证号", "姓名", "年度", "自付金额（元）"), [
        [make_id_number("341602", date(1975, 3, 8), 12), "张三", str(year), "3250.50"],
        [make_id_number("341602", date(1982, 11, 23), 7), "李四", str(year), "860.00"]])


def totals_csv(lines) -> bytes:
    return _csv(TOTALS_HEADER, [[line.year, safe_cell(line.org_code), safe_cell(line.org_name), line.paid,
                                 format_yuan(line.paid_fen), line.in_payment, format_yuan(line.in_payment_fen)]
                                for line in lines])
