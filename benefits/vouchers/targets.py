"""A voucher batch's list of members, from an uploaded CSV/XLSX or a JSON list: national ID
numbers or card numbers, each checked, and every bad row reported with its number and reason.

Files are read by the member import's reader (`members.importing.read_table`): the same size
and XLSX guards, the same encodings."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..members.importing import ImportRefused, RowError, read_table
from ..members.models import Card, Member
from ..extensions import db
from ..orgs.models import Organisation
from ..pii import InvalidIdNumber, mask_id_number, normalise_id_number
from .models import VoucherProgramme

MAX_ROWS = 500_000
ID_HEADERS = ("身份证号", "身份证号码", "公民身份号码", "idnumber", "id_number", "nationalid")
CARD_HEADERS = ("卡号", "会员卡号", "cardnumber", "card_number")

REASONS = {
    "id_number_invalid": "身份证号格式不对",
    "card_number_invalid": "卡号格式不对",
    "unknown_member": "没有这个会员",
    "unknown_card": "没有这张卡",
    "not_in_union": "会员不属于本活动的工会",
    "member_left": "会员已离会",
    "duplicate": "与前面的行重复",
    "empty": "这一行没有身份证号或卡号",
}


@dataclass(frozen=True)
class Entry:
    row: int
    kind: str       # id_number | card_number
    value: str


def _key(text: str) -> str:
    return text.strip().lower().replace(" ", "").replace("_", "")


def read_file(file_name: str, data: bytes, max_rows: int = MAX_ROWS) -> list[Entry]:
    """The file's identifiers with their spreadsheet row numbers (the header is row 1). The
    header names a column of ID numbers (身份证号) or of card numbers (卡号). Reading stops at
    the first row beyond `max_rows` (the web page's cap is far lower than the command line's)."""
    try:
        table = read_table(file_name, data, max_uncompressed=current_app.config["XLSX_MAX_UNCOMPRESSED"],
                           max_rows=max_rows)
    except ImportRefused as exc:
        if exc.code == "too_many_rows":
            raise ImportRefused(f"一次最多 {max_rows} 行。", code="too_many_rows", details=exc.details) from None
        raise
    if not table:
        raise ImportRefused("文件是空的。", code="empty_file")
    header = [_key(c) for c in table[0][1]]
    ids = {_key(h) for h in ID_HEADERS}
    cards = {_key(h) for h in CARD_HEADERS}
    column = next(((i, "id_number") for i, h in enumerate(header) if h in ids), None) or \
        next(((i, "card_number") for i, h in enumerate(header) if h in cards), None)
    if column is None:
        raise ImportRefused("第一行须有“身份证号”或“卡号”列。", code="missing_columns")
    index, kind = column
    return [Entry(number, kind, cells[index].strip() if index < len(cells) else "") for number, cells in table[1:]]


def entries_from_lists(id_numbers=(), card_numbers=()) -> list[Entry]:
    """A JSON request's lists, numbered from 1 in the order given (ID numbers first)."""
    entries = [Entry(i, "id_number", str(v)) for i, v in enumerate(id_numbers or (), start=1)]
    start = len(entries) + 1
    entries += [Entry(i, "card_number", str(v)) for i, v in enumerate(card_numbers or (), start=start)]
    return entries


def _error(entry: Entry, reason: str) -> RowError:
    shown = mask_id_number(entry.value) if entry.kind == "id_number" else entry.value[-4:]
    return RowError(entry.row, entry.kind, reason, REASONS[reason], shown)


def resolve(programme: VoucherProgramme, entries: list[Entry]) -> tuple[list[int], list[RowError]]:
    """The members the entries name, in the programme's union and still members, and an error
    for every other row."""
    errors: list[RowError] = []
    wanted: list[tuple[Entry, str]] = []
    for e in entries:
        if not e.value:
            errors.append(_error(e, "empty"))
        elif e.kind == "id_number":
            try:
                wanted.append((e, normalise_id_number(e.value)))
            except InvalidIdNumber:
                errors.append(_error(e, "id_number_invalid"))
        elif not e.value.isascii() or not e.value.isdigit() or len(e.value) > 19:
            errors.append(_error(e, "card_number_invalid"))
        else:
            wanted.append((e, e.value))
    by_id_number: dict[str, tuple] = {}
    by_card: dict[str, tuple] = {}
    id_numbers = [v for e, v in wanted if e.kind == "id_number"]
    card_numbers = [v for e, v in wanted if e.kind == "card_number"]
    columns = (Member.id, Member.status, Organisation.path)
    for start in range(0, len(id_numbers), 5000):
        chunk = id_numbers[start:start + 5000]
        for number, *rest in db.session.execute(select(Member.id_number, *columns).join(
                Organisation, Organisation.id == Member.org_id).where(Member.id_number.in_(chunk))):
            by_id_number[number] = tuple(rest)
    for start in range(0, len(card_numbers), 5000):
        chunk = card_numbers[start:start + 5000]
        for number, *rest in db.session.execute(select(Card.number, *columns).join(
                Member, Member.id == Card.member_id).join(Organisation, Organisation.id == Member.org_id)
                .where(Card.number.in_(chunk))):
            by_card[number] = tuple(rest)
    member_ids: list[int] = []
    seen: set[int] = set()
    union_path = programme.org.path
    for e, value in wanted:
        found = (by_id_number if e.kind == "id_number" else by_card).get(value)
        if found is None:
            errors.append(_error(e, "unknown_member" if e.kind == "id_number" else "unknown_card"))
            continue
        member_id, status, path = found
        if not path.startswith(union_path):
            errors.append(_error(e, "not_in_union"))
        elif status != "active":
            errors.append(_error(e, "member_left"))
        elif member_id in seen:
            errors.append(_error(e, "duplicate"))
        else:
            seen.add(member_id)
            member_ids.append(member_id)
    errors.sort(key=lambda r: r.row)
    return member_ids, errors
