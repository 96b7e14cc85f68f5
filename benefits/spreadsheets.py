"""Spreadsheets in and out: formula-injection escaping for exports and the XLSX archive guard
for uploads (zip bombs, non-workbooks, DTDs) — shared by every import and export."""
from __future__ import annotations

import io
import zipfile
from flask_babel import gettext as _
from xml.parsers import expat

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_COMPRESSION_RATIO = 100
MAX_ZIP_ENTRIES = 2000


class UnsafeSpreadsheet(ValueError):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def safe_cell(value) -> str:
    """Text a spreadsheet will not run: a cell that could start a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def unescape_cell(text: str) -> str:
    """Undo `safe_cell` when a file we exported is imported again."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def check_xlsx_archive(data: bytes, max_uncompressed: int) -> None:
    """Refuse anything that is not a plausible XLSX before a byte of it is inflated.

    The sizes come from the zip's central directory; an archive that lies about them still
    cannot get past openpyxl's reader because zipfile stops at the declared size.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise UnsafeSpreadsheet(_("不是有效的 XLSX 工作簿。"), "bad_xlsx") from None
    with archive:
        infos = archive.infolist()
        names = {i.filename for i in infos}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise UnsafeSpreadsheet(_("不是有效的 XLSX 工作簿。"), "bad_xlsx")
        if len(infos) > MAX_ZIP_ENTRIES:
            raise UnsafeSpreadsheet(_("XLSX 文件的组成部分过多。"), "xlsx_too_large")
        total = sum(i.file_size for i in infos)
        if total > max_uncompressed:
            raise UnsafeSpreadsheet(
                _("XLSX 文件解压后有 %(mb)s MB，超过允许的 %(max)s MB。", mb=total // (1024 * 1024),
                  max=max_uncompressed // (1024 * 1024)), "xlsx_too_large")
        for info in infos:
            if info.file_size > 1024 * 1024 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                raise UnsafeSpreadsheet(_("XLSX 文件压缩比异常，已拒绝（疑似压缩炸弹）。"), "xlsx_zip_bomb")
        for info in infos:
            if _declares_dtd(archive, info):
                raise UnsafeSpreadsheet(_("XLSX 文件含有 DTD 声明（<!DOCTYPE>），正常的工作簿没有，已拒绝。"), "xlsx_dtd")


class _Prolog(Exception):
    """Raised by the expat handlers: the part's DTD, or its root element, has been reached."""


def _stop_at_dtd(*_args):
    raise _Prolog("dtd")


def _stop_at_root(*_args):
    raise _Prolog("root")


def _declares_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether the part (any part: openpyxl follows the package's own relationships, whatever the
    names) has a DOCTYPE. Only its prolog is read: expat stops at the DTD or at the root element,
    before any entity is declared or expanded, in whatever encoding the part declares. A part
    that is not XML (an image) or not well-formed is left to openpyxl to refuse."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _stop_at_dtd
    parser.StartElementHandler = _stop_at_root
    with archive.open(info) as part:
        try:
            while chunk := part.read(64 * 1024):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except _Prolog as reached:
            return str(reached) == "dtd"
        except expat.ExpatError:
            return False
    return False
