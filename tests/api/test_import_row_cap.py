"""The web imports (members, questions, voucher lists) stop reading at the first row beyond
WEB_IMPORT_MAX_ROWS and refuse the file naming the cap. Each file below is damaged far past the
cap: a reader that went on to the end would trip over the damage instead of refusing for size."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from benefits.database import unit_of_work
from benefits.extensions import db
from benefits.members import importing
from benefits.members.models import Member
from benefits.quiz import importers
from benefits.quiz.models import Question
from benefits.vouchers import targets
from tests import factories, voucher_factories
from tests.api.conftest import api_login, csrf_header, error_code
from tests.services import quiz_world as qw

CAP = 5
DAMAGED_ROW = 40
MARK = 424242


def damaged_xlsx(header, row, rows: int = 60) -> bytes:
    """`rows` data rows; row DAMAGED_ROW holds a number cell whose value is not a number, which
    openpyxl raises on only when it reaches that row."""
    wb = Workbook()
    wb.active.append(header)
    for n in range(2, rows + 2):
        wb.active.append(row(n) + ([MARK] if n == DAMAGED_ROW else []))
    out = io.BytesIO()
    wb.save(out)
    source, damaged = zipfile.ZipFile(out), io.BytesIO()
    with zipfile.ZipFile(damaged, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rf"<v>{MARK}</v>".encode(), b"<v>not-a-number</v>", data)
                assert n == 1
            target.writestr(info, data)
    return damaged.getvalue()


def damaged_csv(header: str, row, rows: int = 60) -> bytes:
    """Row DAMAGED_ROW has a field longer than the csv module's limit (131,072 characters)."""
    lines = [header] + [row(n) + ("," + "x" * 200_000 if n == DAMAGED_ROW else "") for n in range(2, rows + 2)]
    return ("\n".join(lines) + "\n").encode()


def member_row(n: int) -> list:
    return ["341602001", f"王伟{n}", factories.id_number(), "", "普通"]


MEMBER_HEADER = list(importing.TEMPLATE_HEADER)


@pytest.mark.parametrize("name", ["members.xlsx", "members.csv"])
def test_the_member_reader_stops_at_the_cap(app, name):
    data = damaged_xlsx(MEMBER_HEADER, member_row) if name.endswith("xlsx") else \
        damaged_csv(",".join(MEMBER_HEADER), lambda n: ",".join(member_row(n)))
    with pytest.raises(importing.ImportRefused) as whole:   # without a cap the damage is reached
        importing.read_table(name, data, max_uncompressed=64 << 20)
    assert whole.value.code in ("bad_xlsx", "bad_csv")
    with pytest.raises(importing.ImportRefused) as capped:
        importing.read_table(name, data, max_uncompressed=64 << 20, max_rows=CAP)
    assert capped.value.code == "too_many_rows" and capped.value.details == {"max_rows": CAP}
    assert capped.value.message == f"文件超过 {CAP} 行；一次最多导入 {CAP} 行。"


def test_web_row_cap_admits_the_cap_itself(app):
    rows = [member_row(n) for n in range(CAP)]
    table = importing.read_table("m.csv", "\n".join(",".join(r) for r in [MEMBER_HEADER, *rows]).encode(),
                                 max_uncompressed=64 << 20, max_rows=CAP)
    assert len(table) == CAP + 1


def _upload_members(client, data: bytes, name: str):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name)})
    return client.post("/admin/members/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


@pytest.mark.parametrize("name", ["members.xlsx", "members.csv"])
def test_member_import_page_refuses_naming_the_cap(client, auth, app, name):
    tree = factories.org_tree()
    factories.admin(tree["bozhou"], username="importer")
    db.session.commit()
    auth.login("importer")
    app.config["WEB_IMPORT_MAX_ROWS"] = CAP
    data = damaged_xlsx(MEMBER_HEADER, member_row) if name.endswith("xlsx") else \
        damaged_csv(",".join(MEMBER_HEADER), lambda n: ",".join(member_row(n)))
    response = _upload_members(client, data, name)
    assert response.status_code == 400
    assert f"行数超过网页导入上限（{CAP} 行）" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Member.id))) == 0


def question_row(n: int) -> list:
    return ["电工", "单选", f"第{n}题", "甲", "乙", "", "", "", "", "A", 1, "", 2, ""]


def test_the_question_reader_stops_at_the_cap(app):
    data = damaged_xlsx(importers.HEADERS, question_row)
    with pytest.raises(importers.FileProblem) as whole:
        importers.parse(data, "xlsx")
    assert not isinstance(whole.value, importers.TooManyRows)
    with pytest.raises(importers.TooManyRows) as capped:
        importers.parse(data, "xlsx", max_rows=CAP)
    assert capped.value.max_rows == CAP
    csv_data = damaged_csv(",".join(importers.HEADERS), lambda n: ",".join(map(str, question_row(n))))
    with pytest.raises(importers.FileProblem):
        importers.parse(csv_data, "csv")
    with pytest.raises(importers.TooManyRows):
        importers.parse(csv_data, "csv", max_rows=CAP)
    # exactly one row past the cap is read: with the cap just short of it, the damage stays unread
    with pytest.raises(importers.TooManyRows):
        importers.parse(csv_data, "csv", max_rows=DAMAGED_ROW - 3)


def test_question_import_api_and_page_refuse_naming_the_cap(client, auth, world, app):
    with unit_of_work():
        qw.bank("电工", 1)
    app.config["WEB_IMPORT_MAX_ROWS"] = CAP
    data = damaged_xlsx(importers.HEADERS, question_row)
    api_login(client, "province_admin")
    before = db.session.scalar(select(func.count(Question.id)))
    response = client.post("/api/v1/quiz/admin/questions/import", data={"file": (io.BytesIO(data), "bank.xlsx")},
                           content_type="multipart/form-data", headers=csrf_header(client))
    assert response.status_code == 400 and error_code(response) == "too_many_rows"
    assert response.get_json()["error"]["details"] == {"max_rows": CAP}
    assert f"网页最多 {CAP} 道" in response.get_json()["error"]["message"]
    client.post("/api/v1/auth/logout")
    auth.login("province_admin")
    page = client.post("/quiz/admin/import", data={"file": (io.BytesIO(data), "bank.xlsx")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert f"题目过多（网页最多 {CAP} 道）" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Question.id))) == before


def test_the_voucher_list_reader_stops_at_the_cap(app, world):
    data = damaged_xlsx(["身份证号"], lambda n: [factories.id_number()])
    with pytest.raises(importing.ImportRefused) as whole:
        targets.read_file("list.xlsx", data)
    assert whole.value.code == "bad_xlsx"
    with pytest.raises(importing.ImportRefused) as capped:
        targets.read_file("list.xlsx", data, max_rows=CAP)
    assert capped.value.code == "too_many_rows" and str(CAP) in capped.value.message


def test_voucher_issue_page_refuses_naming_the_cap(client, auth, world, app):
    with unit_of_work():
        programme = voucher_factories.programme(world.tree["bozhou"])
    app.config["WEB_IMPORT_MAX_ROWS"] = CAP
    auth.login("bozhou_admin")
    data = damaged_xlsx(["身份证号"], lambda n: [factories.id_number()])
    response = client.post(f"/admin/vouchers/{programme.id}/issue", data={"file": (io.BytesIO(data), "list.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and f"网页一次最多 {CAP} 行" in response.get_data(as_text=True)
