"""Question files in and out: the XLSX/CSV template, Moodle GIFT and Aiken.

Parsers are pure: they return plain question dicts (each with the row or line it came from)
and a list of problems `{"line": n, "message": "..."}`. Nothing here touches the database.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile

from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook

from ..spreadsheets import UnsafeSpreadsheet, check_xlsx_archive, safe_cell, unescape_cell
from .grading import LETTERS, MAX_OPTIONS

HEADERS = ["工种", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F",
           "答案", "分值", "解析", "难度", "标签"]
KIND_NAMES = {"单选": "single", "单选题": "single", "single": "single",
              "多选": "multiple", "多选题": "multiple", "multiple": "multiple",
              "判断": "truefalse", "判断题": "truefalse", "truefalse": "truefalse", "true_false": "truefalse"}
KIND_LABELS = {"single": "单选", "multiple": "多选", "truefalse": "判断"}
TRUE_FALSE_OPTIONS = ["正确", "错误"]
_TF_ANSWERS = {"A": "A", "B": "B", "对": "A", "错": "B", "正确": "A", "错误": "B", "T": "A", "F": "B",
               "TRUE": "A", "FALSE": "B", "√": "A", "×": "B", "Y": "A", "N": "B"}


class FileProblem(Exception):
    """The file as a whole cannot be read (wrong format, too big, no header)."""


class TooManyRows(FileProblem):
    """More questions than `max_rows`: reading stopped at the first one beyond it."""

    def __init__(self, max_rows: int):
        super().__init__(_("题目超过 %(n)s 道", n=max_rows))
        self.max_rows = max_rows


def _text(value) -> str:
    if type(value) is str:
        return unescape_cell(value.strip())
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _int(value: str, default: int, low: int, high: int, name: str, errors: list[str]) -> int:
    if value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        errors.append(_("%(name)s必须是整数", name=name))
        return default
    if not low <= number <= high:
        errors.append(_("%(name)s应在 %(low)s–%(high)s 之间", name=name, low=low, high=high))
    return number


def normalise_question(raw: dict) -> tuple[dict, list[str]]:
    """Check one question's fields; returns the clean question and its problems."""
    errors: list[str] = []
    kind = KIND_NAMES.get(_text(raw.get("kind")).lower()) or KIND_NAMES.get(_text(raw.get("kind")))
    if kind is None:
        errors.append(_("题型应为 单选/多选/判断"))
    stem = _text(raw.get("stem"))
    if not stem:
        errors.append(_("题干不能为空"))
    elif len(stem) > 2000:
        errors.append(_("题干过长（最多 2000 个字）"))
    options = [_text(o) for o in raw.get("options") or []]
    while options and options[-1] == "":
        options.pop()
    if kind == "truefalse" and not options:
        options = list(TRUE_FALSE_OPTIONS)
    if "" in options:
        errors.append(_("选项中间不能留空"))
    if len(options) > MAX_OPTIONS:
        errors.append(_("最多 6 个选项"))
    if any(len(o) > 500 for o in options):
        errors.append(_("选项过长（最多 500 个字）"))
    minimum = 2
    if kind and len(options) < minimum:
        errors.append(_("至少需要 2 个选项"))
    if kind == "truefalse" and len(options) != 2:
        errors.append(_("判断题只能有 2 个选项"))
    answer_raw = _text(raw.get("answer")).upper().replace(",", "").replace("，", "").replace(" ", "")
    if kind == "truefalse":
        answer = _TF_ANSWERS.get(answer_raw, "")
    else:
        answer = "".join(sorted(set(answer_raw)))
    if not answer or any(ch not in LETTERS[:len(options)] for ch in answer):
        errors.append(_("答案“%(answer)s”不是有效的选项字母", answer=answer_raw))
    elif kind in ("single", "truefalse") and len(answer) != 1:
        errors.append(_("单选/判断题只能有一个答案"))
    elif kind == "multiple" and len(answer) < 2:
        errors.append(_("多选题至少两个正确答案"))
    score = _int(_text(raw.get("score")), 1, 1, 100, "分值", errors)
    difficulty = _int(_text(raw.get("difficulty")), 2, 1, 5, "难度", errors)
    raw_tags = raw.get("tags")
    raw_tags = ",".join(map(str, raw_tags)) if isinstance(raw_tags, (list, tuple)) else _text(raw_tags)
    tags = [t.strip() for t in re.split(r"[,，;；\s]+", raw_tags) if t.strip()]
    if any("," in t or len(t) > 30 for t in tags):
        errors.append(_("标签过长（每个最多 30 个字）"))
    question = {"job_type": _text(raw.get("job_type")), "kind": kind, "stem": stem, "options": options,
                "answer": answer, "score": score, "difficulty": difficulty, "tags": tags,
                "explanation": _text(raw.get("explanation"))[:4000]}
    return question, errors


def _row_to_raw(values: list) -> dict:
    values = list(values) + [None] * (len(HEADERS) - len(values))
    return {"job_type": values[0], "kind": values[1], "stem": values[2], "options": values[3:9],
            "answer": values[9], "score": values[10], "explanation": values[11],
            "difficulty": values[12], "tags": values[13]}


def parse_rows(rows, first_line: int = 2, max_rows: int | None = None) -> tuple[list[dict], list[dict]]:
    """Template rows (the header left out) as questions and problems; `first_line` numbers the
    first row as the file shows it. `rows` may be a stream: it is read no further than the first
    question beyond `max_rows`."""
    questions, problems = [], []
    for number, values in enumerate(rows, start=first_line):
        if not any(_text(v) for v in values):
            continue
        if max_rows is not None and len(questions) >= max_rows:
            raise TooManyRows(max_rows)
        question, errors = normalise_question(_row_to_raw(values))
        if not question["job_type"]:
            errors.insert(0, _("工种不能为空"))
        question["line"] = number
        questions.append(question)
        problems.extend({"line": number, "message": e} for e in errors)
    return questions, problems


def _check_header(header) -> None:
    names = [_text(h) for h in (header or [])][:len(HEADERS)]
    if names[:3] != HEADERS[:3]:
        raise FileProblem(_("第 1 行应为模板表头：%(headers)s", headers=",".join(HEADERS)))


def _no_nul(text: str) -> str:
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise FileProblem(_("文件中含有空字符（NUL），不是文本文件"))
    return text


def parse_csv(data: bytes, max_rows: int | None = None) -> tuple[list[dict], list[dict]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise FileProblem(_("文件编码无法识别，请另存为 UTF-8")) from None
    rows = csv.reader(io.StringIO(_no_nul(text)))
    try:
        header = next(rows, None)
        if header is None:
            raise FileProblem(_("文件是空的"))
        _check_header(header)
        return parse_rows(rows, max_rows=max_rows)
    except csv.Error:
        raise FileProblem(_("CSV 文件无法读取")) from None


def parse_xlsx(data: bytes, max_uncompressed: int = 64 * 1024 * 1024,
               max_rows: int | None = None) -> tuple[list[dict], list[dict]]:
    try:
        check_xlsx_archive(data, max_uncompressed)
    except UnsafeSpreadsheet as exc:
        raise FileProblem(_("XLSX 文件被拒绝：%(reason)s", reason=exc)) from None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise FileProblem(_("不是有效的 XLSX 文件")) from None
    try:
        rows = workbook.active.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise FileProblem(_("文件是空的"))
        _check_header(header)
        return parse_rows(rows, max_rows=max_rows)  # read-only mode streams the sheet: stops early
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, SyntaxError):
        # a damaged sheet shows only when its rows are read (ElementTree's ParseError is a SyntaxError)
        raise FileProblem(_("不是有效的 XLSX 文件")) from None
    finally:
        workbook.close()


# ---- Aiken -----------------------------------------------------------------------------------

_AIKEN_OPTION = re.compile(r"^([A-Z])[.)、．]\s*(.+)$")
_AIKEN_ANSWER = re.compile(r"^ANSWER\s*[:：]\s*([A-Z])\s*$", re.IGNORECASE)


def parse_aiken(text: str, job_type: str) -> tuple[list[dict], list[dict]]:
    """Aiken: a stem line, lettered options, then `ANSWER: X` (single choice only)."""
    questions, problems = [], []
    stem, start, options = None, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        answer = _AIKEN_ANSWER.match(line)
        option = _AIKEN_OPTION.match(line)
        if stem is None:
            stem, start, options = line, number, []
        elif answer:
            question, errors = normalise_question({"job_type": job_type, "kind": "single", "stem": stem,
                                                   "options": options, "answer": answer.group(1)})
            question["line"] = start
            questions.append(question)
            problems.extend({"line": start, "message": e} for e in errors)
            stem = None
        elif option:
            if len(options) >= len(LETTERS) or option.group(1) != LETTERS[len(options)]:
                problems.append({"line": number, "message": _("选项字母应按 A–F 顺序")})
            options.append(option.group(2))
        else:
            problems.append({"line": number, "message": _("应为选项（A. …）或 ANSWER: 行")})
    if stem is not None:
        problems.append({"line": start, "message": _("题目缺少 ANSWER: 行")})
    return questions, problems


# ---- GIFT ------------------------------------------------------------------------------------

_ESCAPES = {"\\=": "\x01", "\\~": "\x02", "\\#": "\x03", "\\{": "\x04", "\\}": "\x05", "\\:": "\x06"}
_UNESCAPE = {v: k[1] for k, v in _ESCAPES.items()}
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_TF = {"T": "A", "TRUE": "A", "F": "B", "FALSE": "B"}


def _unescape(text: str) -> str:
    for placeholder, char in _UNESCAPE.items():
        text = text.replace(placeholder, char)
    return re.sub(r"^\[(html|moodle|markdown|plain)\]", "", text.strip()).strip()


def _gift_blocks(text: str):
    """Yield (first line number, block text, category) for each question block."""
    category, block, start = "", [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        if stripped.startswith("$CATEGORY:"):
            category = stripped.split(":", 1)[1].strip().split("/")[-1].strip()
            continue
        if not stripped:
            if block:
                yield start, "\n".join(block), category
            block = []
            continue
        if not block:
            start = number
        block.append(line)
    if block:
        yield start, "\n".join(block), category


def _gift_one(body: str) -> tuple[dict | None, str | None]:
    """Parse one escaped block; returns (raw question, None) or (None, unsupported-type message)."""
    title = re.match(r"^::(.*?)::", body, re.S)
    if title:
        body = body[title.end():]
    if "{" not in body:
        return None, _("不支持的 GIFT 题型：描述")
    opening = body.index("{")
    closing = body.find("}", opening)
    if closing < 0:
        return None, _("缺少右花括号 }")
    before, inside, after = body[:opening], body[opening + 1:closing].strip(), body[closing + 1:]
    stem = _unescape(before + ("____" + after if after.strip() else ""))
    general = ""
    if "####" in inside:
        inside, general = inside.split("####", 1)
        inside = inside.strip()
    if inside == "":
        return None, _("不支持的 GIFT 题型：问答")
    if inside.startswith("#"):
        return None, _("不支持的 GIFT 题型：数值")
    head = inside.split("#", 1)[0].strip().upper()
    if head in _TF:
        return {"kind": "truefalse", "stem": stem, "options": list(TRUE_FALSE_OPTIONS), "answer": _TF[head],
                "explanation": _unescape(general)}, None
    if "->" in inside:
        return None, _("不支持的 GIFT 题型：匹配")
    parts = re.findall(r"([=~])([^=~]*)", inside)
    if not parts or "~" not in {p[0] for p in parts}:
        return None, _("不支持的 GIFT 题型：填空/简答")
    options, answer = [], ""
    for marker, text in parts:
        text = text.split("#", 1)[0].strip()
        weight = _WEIGHT.match(text)
        if weight:
            text = text[weight.end():].strip()
        right = marker == "=" or (weight is not None and float(weight.group(1)) > 0)
        if right and len(options) < len(LETTERS):
            answer += LETTERS[len(options)]
        options.append(_unescape(text))
    kind = "multiple" if len(answer) > 1 else "single"
    return {"kind": kind, "stem": stem, "options": options, "answer": answer,
            "explanation": _unescape(general)}, None


def parse_gift(text: str, job_type: str) -> tuple[list[dict], list[dict]]:
    """Moodle GIFT: single/multiple choice and true/false; `$CATEGORY:` names the job type."""
    for escaped, placeholder in _ESCAPES.items():
        text = text.replace(escaped, placeholder)
    questions, problems = [], []
    for start, body, category in _gift_blocks(text):
        raw, unsupported = _gift_one(body)
        if unsupported:
            problems.append({"line": start, "message": unsupported})
            continue
        raw["job_type"] = category or job_type
        question, errors = normalise_question(raw)
        if not question["job_type"]:
            errors.insert(0, _("未指定工种：请用 $CATEGORY: 或选择工种"))
        question["line"] = start
        questions.append(question)
        problems.extend({"line": start, "message": e} for e in errors)
    return questions, problems


FORMATS = ("xlsx", "csv", "gift", "aiken")


def detect_format(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"xlsx": "xlsx", "csv": "csv", "gift": "gift", "aiken": "aiken", "txt": "aiken"}.get(suffix, "")


def parse(data: bytes, fmt: str, job_type: str = "", max_uncompressed: int = 64 * 1024 * 1024,
          max_rows: int | None = None):
    """Questions and problems from a file; more than `max_rows` questions raise TooManyRows."""
    if fmt == "xlsx":
        return parse_xlsx(data, max_uncompressed, max_rows)
    if fmt == "csv":
        return parse_csv(data, max_rows)
    try:
        text = _no_nul(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FileProblem(_("文本文件应为 UTF-8 编码")) from None
    if fmt == "gift":
        questions, problems = parse_gift(text, job_type)
    elif fmt == "aiken":
        questions, problems = parse_aiken(text, job_type)
    else:
        raise FileProblem(_("不支持的文件格式，请用 xlsx/csv/gift/aiken"))
    if max_rows is not None and len(questions) > max_rows:
        raise TooManyRows(max_rows)
    return questions, problems


# ---- export ----------------------------------------------------------------------------------

def template_rows(questions) -> list[list[str]]:
    """Rows in the template's column order for (job type name, question) pairs."""
    rows = []
    for job_type_name, q in questions:
        options = list(q.options) + [""] * (MAX_OPTIONS - len(q.options))
        rows.append([safe_cell(v) for v in [job_type_name, KIND_LABELS[q.kind], q.stem, *options, q.answer,
                                        q.score, q.explanation, q.difficulty, ",".join(q.tag_list)]])
    return rows


def write_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def write_xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("题库")
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


TEMPLATE_EXAMPLES = [
    ["电工", "单选", "低压配电线路停电检修时，应先做的安全措施是？", "验电", "挂接地线", "装设遮栏", "悬挂标示牌", "", "",
     "A", "1", "停电后必须先验明确无电压，再装设接地线。", "2", "安全规程"],
    ["电工", "多选", "下列属于基本绝缘安全用具的有？", "绝缘棒", "绝缘夹钳", "绝缘手套", "验电器", "", "",
     "ABD", "2", "绝缘手套属于辅助绝缘安全用具。", "3", "安全用具"],
    ["电工", "判断", "带电作业时可以单人进行。", "", "", "", "", "", "", "错", "1",
     "带电作业必须有专人监护。", "1", "安全规程"],
]
