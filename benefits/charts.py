"""What a page's chart shows, as plain data: the page puts it in its container's `data-chart`
attribute (JSON) and `static/charts.js` draws it with ECharts (templates/_charts.html). The same
spec fills the table beside the chart, so the chart and its table cannot disagree.

A spec: {"kind": "line" | "bar" | "hbar" | "pie", "labels": [...], "series": [{"name", "values"}],
"money": values are fen (drawn and tabled as yuan), "stack": bars stacked}. Values are whole
numbers, exactly the service's figures; labels and series names are already translated.
"""
from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence

KINDS = ("line", "bar", "hbar", "pie")


def chart(kind: str, labels: Iterable, series: Sequence[tuple[str, Iterable[int]]], *,
          money: bool = False, stack: bool = False) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown chart kind {kind!r}")
    labels = [str(label) for label in labels]
    spec_series = [{"name": str(name), "values": [int(v) for v in values]} for name, values in series]
    if any(len(s["values"]) != len(labels) for s in spec_series):
        raise ValueError("every series needs one value per label")
    return {"kind": kind, "labels": labels, "series": spec_series, "money": money, "stack": stack}


def day_label(day: date) -> str:
    """A day on a chart's axis: month and day ("12-01"), the same in every language."""
    return f"{day:%m-%d}"
