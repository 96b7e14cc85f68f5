import io
import zipfile

import pytest

from benefits.spreadsheets import UnsafeSpreadsheet, check_xlsx_archive, safe_cell, unescape_cell


@pytest.mark.parametrize("value", ["=1+1", "+86", "-5", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_cells_are_quoted_and_unquoted(value):
    assert safe_cell(value) == "'" + value
    assert unescape_cell(safe_cell(value)) == value


def test_plain_cells_are_left_alone():
    assert safe_cell("古井集团") == "古井集团" and safe_cell(None) == "" and safe_cell(12) == "12"
    assert unescape_cell("'quoted text") == "'quoted text"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_bomb_is_refused_from_the_directory_alone():
    bomb = _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>",
                 "xl/worksheets/sheet1.xml": b"0" * (20 * 1024 * 1024)})
    with pytest.raises(UnsafeSpreadsheet) as refused:
        check_xlsx_archive(bomb, max_uncompressed=64 * 1024 * 1024)
    assert refused.value.code == "xlsx_zip_bomb"


def test_too_large_and_not_a_workbook():
    with pytest.raises(UnsafeSpreadsheet) as refused:
        check_xlsx_archive(_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"1" * 4096}), max_uncompressed=1024)
    assert refused.value.code == "xlsx_too_large"
    with pytest.raises(UnsafeSpreadsheet) as refused:
        check_xlsx_archive(_zip({"hello.txt": b"hi"}), max_uncompressed=1024)
    assert refused.value.code == "bad_xlsx"
    with pytest.raises(UnsafeSpreadsheet):
        check_xlsx_archive(b"not a zip", max_uncompressed=1024)
