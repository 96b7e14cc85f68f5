"""Every prize category has its own placeholder picture under static/: a small, self-contained
SVG (a flat icon on a coloured tile, no text, no script, nothing fetched from elsewhere), square,
and different from every other category's."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from benefits.prizes import categories

STATIC = Path(__file__).resolve().parents[2] / "static"
SVG = "{http://www.w3.org/2000/svg}"


def test_each_category_has_its_own_square_svg():
    seen: dict[str, str] = {}
    for category in categories.CATEGORIES:
        path = STATIC / categories.placeholder(category)
        assert path.name == f"{category}.svg", path
        source = path.read_text(encoding="utf-8")
        root = ET.fromstring(source)
        assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 240 240"
        assert (root.get("width"), root.get("height")) == ("240", "240")
        tags = {element.tag.removeprefix(SVG) for element in root.iter()}
        assert not tags & {"text", "script", "image", "foreignObject", "a", "style"}, (category, tags)
        assert "href" not in source and "url(" not in source
        assert not any(name.startswith("on") for element in root.iter() for name in element.attrib)
        tile = root[0]
        assert tile.tag == f"{SVG}rect" and (tile.get("width"), tile.get("height")) == ("240", "240")
        assert source not in seen.values(), f"{category} looks like {seen}"
        assert tile.get("fill") not in {ET.fromstring(s)[0].get("fill") for s in seen.values()}, category
        seen[category] = source

