"""The admin import page: upload, per-row error table, scope, size limits, template download."""
from __future__ import annotations

import io
from datetime import date

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from benefits.extensions import db
from benefits.members.models import Member
from benefits.pii import make_id_number
from tests import factories

HEADER = "组织代码,姓名,身份证号,手机号,类别\n"


def upload(client, text: str | bytes, name: str = "members.csv", skip_invalid: bool = False):
    data = {"file": FileStorage(io.BytesIO(text.encode() if isinstance(text, str) else text), filename=name)}
    if skip_invalid:
        data["skip_invalid"] = "y"
    # Encoded in memory: the test client would otherwise spool a big body to an unclosed temp file.
    boundary, body = encode_multipart(data)
    return client.post("/admin/members/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def ids(n: int) -> list[str]:
    return [make_id_number("341602", date(1975, 3, 1 + i), 300 + i) for i in range(n)]


def setup_admin(auth, org_key: str = "bozhou"):
    tree = factories.org_tree()
    factories.admin(tree[org_key], username="importer")
    db.session.commit()
    assert auth.login("importer").status_code == 302
    return tree


def members() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count(Member.id)))


def test_page_imports_a_csv_into_the_admins_subtree(client, auth):
    setup_admin(auth)
    page = client.get("/admin/members/import")
    assert page.status_code == 200 and "导入会员" in page.text and 'enctype="multipart/form-data"' in page.text
    a, b = ids(2)
    response = upload(client, HEADER + f"341602001,王伟,{a},13800001111,普通\n341602001,李娜,{b},,劳模\n")
    assert response.status_code == 200
    assert 'data-testid="count-imported">2<' in response.text and "全部导入成功" in response.text
    assert members() == 2


def test_page_shows_each_bad_row_and_writes_nothing(client, auth):
    setup_admin(auth)
    a, b = ids(2)
    response = upload(client, HEADER + f"341602001,王伟,{a},13800001111,普通\n"
                                       f"341602001,李娜,{b[:17]}{'0' if b[17] != '0' else '1'},,普通\n"
                                       f"341602001,张强,{a},,普通\n")
    assert response.status_code == 422
    html = response.text
    assert "未导入任何数据" in html
    assert "<td>3</td><td>身份证号</td>" in html and "身份证号校验位错误" in html
    assert "<td>4</td><td>身份证号</td>" in html and "与第 2 行的身份证号重复" in html
    assert a not in html  # ID numbers are shown masked
    assert members() == 0


def test_rows_for_another_city_are_errors_on_the_page(client, auth):
    setup_admin(auth, "bozhou")
    a, b = ids(2)
    response = upload(client, HEADER + f"341602001,王伟,{a},,普通\n340503001,李娜,{b},,普通\n", skip_invalid=True)
    assert response.status_code == 200
    assert "该组织不在您的管辖范围内" in response.text and 'data-testid="count-imported">1<' in response.text
    db.session.remove()
    assert db.session.scalar(select(Member.id_number)) == a


def test_english_page(client, auth):
    setup_admin(auth)
    response = client.get("/admin/members/import?lang=en")
    assert "Import members" in response.text and "Download the template" in response.text


def test_ten_megabyte_upload_is_refused_clearly(client, auth, app):
    setup_admin(auth)
    big = HEADER.encode() + b"x" * (10 * 1024 * 1024)
    response = upload(client, big)
    assert response.status_code == 413
    assert "文件太大，超过上传限制。" in response.text
    assert members() == 0


def test_web_row_cap(client, auth, app):
    setup_admin(auth)
    app.config["WEB_IMPORT_MAX_ROWS"] = 2
    response = upload(client, HEADER + "".join(f"341602001,王伟,{i},,普通\n" for i in ids(3)))
    assert response.status_code == 400 and "行数超过网页导入上限" in response.text
    assert members() == 0


def test_template_download_is_importable(client, auth):
    setup_admin(auth)
    template = client.get("/admin/members/import/template.csv")
    assert template.status_code == 200 and template.mimetype == "text/csv"
    assert template.data.decode("utf-8-sig").startswith("组织代码,姓名,身份证号,手机号,类别")
    response = upload(client, template.data, name="member-import-template.csv")
    assert 'data-testid="count-imported">2<' in response.text


def test_members_and_anonymous_users_cannot_import(client, auth):
    tree = factories.org_tree()
    factories.member_user(tree["gujing"])
    db.session.commit()
    assert client.get("/admin/members/import").status_code == 302  # to sign-in
    member_id = db.session.scalar(select(Member.id_number))
    auth.login(member_id)
    assert upload(client, HEADER).status_code == 403
