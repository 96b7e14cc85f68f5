"""Every prize in the mall shows a picture that really loads — the uploaded one, else its
category's placeholder — on a 390 px phone (two tiles a row) and a 1,366 px screen, square and
sized before it arrives. Screenshots: test-artifacts/prize-pictures/."""
from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import expect

from benefits.database import unit_of_work
from benefits.prizes import categories
from benefits.prizes import service as prizes
from tests.conftest import ROOT
from tests.prize_factories import prize, rich_member, world
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "test-artifacts" / "prize-pictures"
NAMES = {"appliances": "洗衣机", "food": "东北大米（10 斤）", "household": "保温杯", "digital": "蓝牙耳机",
         "books_sports": "羽毛球拍（一对）", "gift_cards": "加油卡（100 元）", "other": "工会纪念徽章"}


def _png(size: int = 96) -> bytes:
    """A real PNG (a red disc on cream) that a browser decodes, built without an imaging library."""
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            inside = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size * 0.32) ** 2
            row += bytes((200, 22, 29) if inside else (255, 246, 230))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))



def _pictures_loaded(page) -> list[dict]:
    """Scroll through the page (lazy pictures load as they come near), wait for every picture,
    and report each one's name, size as decoded and box as laid out."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    # locator assertions, not wait_for_function: its polling evaluates a string, which the CSP forbids
    pictures = page.locator("img.prize-pic")
    for n in range(pictures.count()):
        expect(pictures.nth(n)).to_have_js_property("complete", True)
    page.evaluate("window.scrollTo(0, 0)")
    return page.evaluate("""[...document.querySelectorAll('img.prize-pic')].map(i => {
        const box = i.getBoundingClientRect();
        return {alt: i.alt, src: i.getAttribute('src'), natural: i.naturalWidth, width: box.width,
                height: box.height, top: Math.round(box.top + window.scrollY), left: Math.round(box.left)};
    })""")


def _save(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _check_mall(page, expected: dict[str, str]) -> list[dict]:
    pictures = _pictures_loaded(page)
    assert {p["alt"]: p["src"] for p in pictures} == expected
    assert [p["alt"] for p in pictures if p["natural"] == 0] == [], "pictures that did not load"
    assert all(abs(p["width"] - p["height"]) <= 1 and p["width"] > 100 for p in pictures), pictures
    assert page.locator(".prize-tile").count() == len(expected)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    return pictures


def test_every_prize_in_the_mall_shows_a_picture(live, phone_page, page):
    with live.seed.app_context(), unit_of_work():
        w = world(0)
        member = rich_member(w["tree"]["gujing"], 3_000, name="李娜")
        for i, category in enumerate(categories.CATEGORIES):
            prize(w["admin"], w["point"], stock=5, cost=300 + 400 * i, name=NAMES[category], category=category)
        apple = prize(w["admin"], w["point"], stock=0, cost=150, name="砀山酥梨（一箱）", category="food")
        prizes.set_image(w["admin"], apple, _png())
        apple_picture = f"/prizes/images/{apple.image_id}"
        username = member.username
    expected = {NAMES[c]: f"/static/prizes/{c}.svg" for c in categories.CATEGORIES} | {"砀山酥梨（一箱）": apple_picture}

    phone = phone_page
    sign_in(phone, live.url, username)
    phone.get_by_test_id("tab-mall").click()
    pictures = _check_mall(phone, expected)
    rows: dict[int, list[int]] = {}
    for p in pictures:
        rows.setdefault(p["top"], []).append(p["left"])
    assert all(len(lefts) == 2 for lefts in list(rows.values())[:-1]), rows     # two tiles a row
    _save(phone, "mall-390")
    phone.locator(".prize-tile", has_text=NAMES["digital"]).click()
    detail = _pictures_loaded(phone)
    assert [(p["alt"], p["src"]) for p in detail] == [(NAMES["digital"], "/static/prizes/digital.svg")]
    assert detail[0]["natural"] > 0 and "数码" in phone.get_by_test_id("prize-detail").inner_text()
    _save(phone, "detail-390")
    phone.get_by_test_id("redeem").click()
    assert [p["src"] for p in _pictures_loaded(phone)] == ["/static/prizes/digital.svg"]
    _save(phone, "confirm-390")
    phone.get_by_test_id("confirm-redeem").click()
    phone.wait_for_url("**/prizes/my/*")
    phone.goto(live.url + "/prizes/my")
    mine = _pictures_loaded(phone)
    assert [(p["alt"], p["natural"] > 0) for p in mine] == [(NAMES["digital"], True)]
    _save(phone, "my-redemptions-390")

    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live.url, username)
    page.goto(live.url + "/prizes")
    wide = _check_mall(page, expected)
    assert max(len([p for p in wide if p["top"] == top]) for top in {p["top"] for p in wide}) >= 4
    _save(page, "mall-1366")
