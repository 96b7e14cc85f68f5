"""Member import: CSV/XLSX, row-level errors, all-or-nothing, skip-invalid, zip-bomb guard, CLI."""
from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from benefits.audit.models import AuditEntry
from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members import importing
from benefits.members.models import Member
from benefits.pii import id_check_digit, make_id_number
from tests import factories

LIMIT = 64 * 1024 * 1024
HEADER = "组织代码,姓名,身份证号,手机号,类别\n"


def ids(n: int, region: str = "340503") -> list[str]:
    return [make_id_number(region, date(1980 + i % 20, 1 + i % 12, 1 + i % 28), 500 + i) for i in range(n)]


def wrong_check_digit(id_number: str) -> str:
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


def csv_bytes(lines: list[str]) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode("utf-8")


def run(data: bytes, name: str = "members.csv", **kwargs):
    return importing.import_members(None, name, data, max_uncompressed=LIMIT, **kwargs)


def member_count() -> int:
    return db.session.scalar(select(func.count(Member.id)))


def test_csv_import_creates_members_and_one_audit_entry(app):
    tree = factories.org_tree()
    a, b, c = ids(3)
    data = csv_bytes([f"340503001,王伟,{a},13800001111,普通",
                      f"341602001,李娜,{b.lower()},,困难职工",   # lower-case x accepted
                      f"340503001,张强,{c},+86 139-0000-2222,model_worker"])
    report = run(data)
    assert (report.total_rows, report.imported, report.errors) == (3, 3, [])
    rows = {m.id_number: m for m in db.session.scalars(select(Member))}
    assert rows[a].org_id == tree["magang"].id and rows[a].category == "ordinary" and rows[a].phone == "13800001111"
    assert rows[b.upper()].category == "hardship" and rows[b.upper()].phone is None
    assert rows[c].category == "model_worker" and rows[c].phone == "13900002222" and rows[c].status == "active"
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "member.import")).all()
    assert len(entries) == 1
    assert entries[0].after == {"file": "members.csv", "rows": 3, "imported": 3, "skipped": 0}
    assert entries[0].org_id == tree["province"].id  # the lowest union holding both organisations


def test_gb18030_csv_and_english_header(app):
    factories.org_tree()
    (a,) = ids(1)
    data = f"org_code,name,id_number,phone,category\n340503001,王伟,{a},,退休\n".encode("gb18030")
    report = run(data)
    assert report.imported == 1
    assert db.session.scalar(select(Member.category)) == "retiree"


def xlsx_bytes(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["组织代码", "姓名", "身份证号", "手机号", "类别"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsx_import(app):
    tree = factories.org_tree()
    a, b = ids(2)
    report = run(xlsx_bytes([["340503001", "王伟", a, 13800001111, "劳模"], ["341602001", "李娜", b, None, "退休"]]),
                 name="名单.xlsx")
    assert (report.imported, report.errors) == (2, [])
    m = db.session.scalar(select(Member).where(Member.id_number == a))
    assert (m.phone, m.category, m.org_id) == ("13800001111", "model_worker", tree["magang"].id)


def test_bad_rows_are_reported_with_row_numbers_and_nothing_is_written(app):
    factories.org_tree()
    good, other = ids(2)
    bad_digit = wrong_check_digit(other)
    bad_date = "340503" + "19870231" + "123"
    bad_date += id_check_digit(bad_date)
    data = csv_bytes([f"340503001,王伟,{good},13800001111,普通",          # row 2 fine
                      f"340503001,李娜,{bad_digit},13800001112,普通",     # row 3 check digit
                      f"340503001,张强,{bad_date},13800001113,普通",      # row 4 impossible date
                      f"999999,赵敏,{ids(3)[2]},13800001114,普通",        # row 5 unknown org
                      f"340503001,钱多,{ids(4)[3]},12345,普通",          # row 6 phone
                      f"340503001,孙悟,{ids(5)[4]},,干部"])              # row 7 category
    with unit_of_work():
        report = run(data)
    assert report.imported == 0 and report.refused and report.error_rows == 5
    assert [(e.row, e.reason) for e in report.errors] == [
        (3, "id_number_check_digit"), (4, "id_number_birth_date"), (5, "org_unknown"),
        (6, "phone_invalid"), (7, "category_unknown")]
    assert report.errors[0].message == "身份证号校验位错误"
    assert "*" in report.errors[0].value and bad_digit not in report.errors[0].value  # masked
    assert member_count() == 0
    assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "member.import")) == 0


def test_skip_invalid_imports_the_good_rows(app):
    factories.org_tree()
    a, b, c = ids(3)
    data = csv_bytes([f"340503001,王伟,{a},,普通", f"340503001,坏行,{b[:10]},,普通", f"340503001,张强,{c},,普通"])
    report = run(data, skip_invalid=True)
    assert (report.imported, report.error_rows, report.skipped) == (2, 1, 1)
    assert [(e.row, e.reason) for e in report.errors] == [(3, "id_number_length")]
    assert set(db.session.scalars(select(Member.id_number))) == {a, c}


def test_duplicates_in_file_and_in_database(app):
    tree = factories.org_tree()
    existing = factories.member(tree["magang"])
    a, b = ids(2)
    data = csv_bytes([f"340503001,王伟,{a},,普通",
                      f"340503001,王伟二,{a},,普通",
                      f"340503001,老会员,{existing.id_number},,普通",
                      f"340503001,李娜,{b},,普通"])
    report = run(data)
    assert [(e.row, e.reason) for e in report.errors] == [(3, "duplicate_in_file"), (4, "already_member")]
    assert report.errors[0].message == "与第 2 行的身份证号重复"
    assert member_count() == 1
    report = run(data, skip_invalid=True)
    assert report.imported == 2 and member_count() == 3


def test_scope_rows_outside_the_admins_union_are_errors(app):
    tree = factories.org_tree()
    a, b = ids(2)
    data = csv_bytes([f"340503001,王伟,{a},,普通", f"341602001,李娜,{b},,普通"])
    report = run(data, scope=tree["bozhou"])
    assert [(e.row, e.reason) for e in report.errors] == [(2, "org_out_of_scope")]
    assert member_count() == 0


def test_file_level_refusals(app):
    factories.org_tree()
    with pytest.raises(importing.ImportRefused) as err:
        run(b"name,phone\nx,y\n")
    assert err.value.code == "missing_columns" and "组织代码" in err.value.message
    with pytest.raises(importing.ImportRefused) as err:
        run(b"hello", name="members.txt")
    assert err.value.code == "unsupported_file_type"
    with pytest.raises(importing.ImportRefused) as err:
        run(b"PK\x03\x04 not really a zip", name="members.xlsx")
    assert err.value.code == "bad_xlsx"
    with pytest.raises(importing.ImportRefused) as err:
        run(csv_bytes([f"340503001,王伟,{i},,普通" for i in ids(3)]), max_rows=2)
    assert err.value.code == "too_many_rows"
    assert member_count() == 0


def zip_bomb(uncompressed_mb: int) -> bytes:
    """A structurally valid XLSX whose sheet is megabytes of one repeated byte."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            chunk = b"0" * (1024 * 1024)
            for _ in range(uncompressed_mb):
                sheet.write(chunk)
    return out.getvalue()


def test_zip_bomb_xlsx_refused_without_inflating(app, monkeypatch):
    factories.org_tree()
    bomb = zip_bomb(200)
    assert len(bomb) < 1024 * 1024  # tiny on disk, 200 MB inside
    monkeypatch.setattr("openpyxl.load_workbook", lambda *a, **k: pytest.fail("openpyxl must not open a bomb"))
    with pytest.raises(importing.ImportRefused) as err:
        run(bomb, name="bomb.xlsx")
    assert err.value.code == "xlsx_too_large"
    with pytest.raises(importing.ImportRefused) as err:  # under the size cap, but an absurd ratio
        run(zip_bomb(20), name="bomb.xlsx")
    assert err.value.code == "xlsx_zip_bomb"


def test_cli_exit_code_and_output(app, tmp_path):
    factories.org_tree()
    db.session.commit()
    a, b = ids(2)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([f"340503001,王伟,{a},,普通", f"340503001,李娜,{wrong_check_digit(b)},,普通"]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["members", "import", str(bad)])
    assert result.exit_code == 1
    assert "第 3 行 身份证号：身份证号校验位错误" in result.output
    assert "未导入任何数据" in result.output
    assert member_count() == 0
    result = runner.invoke(args=["members", "import", str(bad), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert "bad.csv：2 行，已导入 1 行，有错误的行 1 行，跳过 1 行。" in result.output
    db.session.remove()
    assert member_count() == 1
    missing = runner.invoke(args=["members", "import", str(tmp_path / "zip.xlsx")])
    assert missing.exit_code == 2
