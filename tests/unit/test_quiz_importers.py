import io

import pytest
from openpyxl import Workbook

from benefits.quiz import importers


def csv_bytes(*rows):
    return importers.write_csv([list(r) for r in rows])


def test_template_csv_round_trips_and_reads_each_kind():
    data = importers.write_csv(importers.TEMPLATE_EXAMPLES)
    questions, problems = importers.parse_csv(data)
    assert problems == []
    assert [q["kind"] for q in questions] == ["single", "multiple", "truefalse"]
    assert questions[1]["answer"] == "ABD"
    assert questions[2]["options"] == ["正确", "错误"] and questions[2]["answer"] == "B"
    assert questions[0]["line"] == 2 and questions[0]["tags"] == ["安全规程"]


def test_every_problem_is_reported_with_its_row():
    data = csv_bytes(
        ["电工", "单选", "好题", "甲", "乙", "", "", "", "", "A", "1", "", "2", ""],
        ["电工", "填空", "题型不对", "甲", "乙", "", "", "", "", "A", "", "", "", ""],
        ["电工", "单选", "", "甲", "乙", "", "", "", "", "A", "", "", "", ""],
        ["电工", "单选", "答案越界", "甲", "乙", "", "", "", "", "E", "", "", "", ""],
        ["电工", "多选", "多选只有一个答案", "甲", "乙", "丙", "", "", "", "B", "", "", "", ""],
        ["", "单选", "没有工种", "甲", "乙", "", "", "", "", "A", "", "", "9", ""],
        ["电工", "单选", "中间空选项", "甲", "", "丙", "", "", "", "A", "", "", "", ""],
    )
    questions, problems = importers.parse_csv(data)
    lines = sorted({p["line"] for p in problems})
    assert lines == [3, 4, 5, 6, 7, 8]
    assert any("难度" in p["message"] for p in problems if p["line"] == 7)


def test_csv_without_the_template_header_is_refused():
    with pytest.raises(importers.FileProblem):
        importers.parse_csv("a,b,c\n1,2,3\n".encode())


def test_xlsx_template_is_read_and_formula_like_cells_are_escaped_on_export():
    wb = Workbook()
    ws = wb.active
    ws.append(importers.HEADERS)
    ws.append(["焊工", "判断", "焊接时必须佩戴面罩。", None, None, None, None, None, None, "对", 1, None, 1, None])
    buf = io.BytesIO()
    wb.save(buf)
    questions, problems = importers.parse_xlsx(buf.getvalue())
    assert problems == [] and questions[0]["answer"] == "A"

    class Q:
        kind, stem, options, answer, score, explanation, difficulty, tag_list = (
            "single", "=HYPERLINK(\"x\")", ["a", "b"], "A", 1, "", 2, [])
    row = importers.template_rows([("电工", Q)])[0]
    assert row[2].startswith("'=")


def test_broken_xlsx_is_a_file_problem():
    with pytest.raises(importers.FileProblem):
        importers.parse_xlsx(b"not a zip")


GIFT = """// a comment
$CATEGORY: $course$/电工

::q1:: 我国工频交流电的频率是？ {=50 Hz ~60 Hz ~100 Hz #feedback ####工频 50 赫兹。}

下列属于安全技术措施的有？ {
  ~%50%停电
  ~%50%验电
  ~%-100%喝茶
}

带电作业可以单人进行。 {F}

::matching:: 配对 { =a -> 1 =b -> 2 =c -> 3 }

数值题 {#42}

简答题 {=电压 =电位差}

问答题 {}

纯描述文字，没有花括号
"""


def test_gift_reads_choice_and_true_false_and_reports_other_types_by_line():
    questions, problems = importers.parse_gift(GIFT, "")
    assert [(q["kind"], q["answer"], q["job_type"]) for q in questions] == [
        ("single", "A", "电工"), ("multiple", "AB", "电工"), ("truefalse", "B", "电工")]
    assert questions[0]["explanation"] == "工频 50 赫兹。"
    assert questions[0]["line"] == 4
    assert {p["line"]: p["message"].split("：")[1][:2] for p in problems} == {
        14: "匹配", 16: "数值", 18: "填空", 20: "问答", 22: "描述"}


def test_aiken_reads_questions_and_reports_missing_answer():
    text = "下列哪个是火警电话？\nA. 110\nB. 119\nC. 120\nANSWER: B\n\n没有答案的题\nA. 甲\nB. 乙\n"
    questions, problems = importers.parse_aiken(text, "电工")
    assert len(questions) == 1 and questions[0]["answer"] == "B" and questions[0]["options"][1] == "119"
    assert problems == [{"line": 7, "message": problems[0]["message"]}]
    assert "ANSWER" in problems[0]["message"]


def test_exported_formula_like_stem_imports_back_unchanged():
    class Q:
        kind, stem, options, answer, score, explanation, difficulty, tag_list = (
            "single", "-5℃以下应停止露天焊接作业吗？", ["是", "否"], "A", 1, "=见规程", 2, [])
    exported = importers.write_csv(importers.template_rows([("焊工", Q)]))
    assert "'-5℃" in exported.decode("utf-8-sig")
    questions, problems = importers.parse_csv(exported)
    assert problems == []
    assert questions[0]["stem"] == Q.stem and questions[0]["explanation"] == "=见规程"
