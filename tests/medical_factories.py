"""Builders for medical-benefit tests: programmes, insurance files and bank return files."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from benefits.medical import service as medical

CLAIM_HEADER = ("身份证号", "姓名", "年度", "自付金额（元）")
RETURN_HEADER = ("业务参考号", "结果", "失败原因")


def programme(org, **terms):
    """Bozhou's 2020 terms (DOMAIN.md): out-of-pocket costs over 1,000 yuan, 200.00 each."""
    data = {"name": "医疗普惠", "year": 2020, "threshold_fen": 100_000, "amount_fen": 20_000,
            "budget_fen": 20_000 * 100}
    data.update(terms)
    return medical.create_programme(None, org, data)


def csv_bytes(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_bytes(header, rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def claims_csv(rows) -> bytes:
    """rows: (id number, name, year, amount in yuan as text)."""
    return csv_bytes(CLAIM_HEADER, rows)


def claim(member, amount: str, year: int = 2020) -> tuple:
    return (member.id_number, member.name, str(year), amount)


def returns_csv(rows) -> bytes:
    """rows: (reference, 成功/失败, reason)."""
    return csv_bytes(RETURN_HEADER, rows)


def import_claims(p, data: bytes, name: str = "yibao-2020.csv", **kwargs):
    return medical.import_claims(None, p, name, data, max_uncompressed=64 * 1024 * 1024, **kwargs)


def import_returns(p, data: bytes, name: str = "huipan.csv"):
    return medical.import_returns(None, p, name, data, max_uncompressed=64 * 1024 * 1024)
