"""Reports drawn and exported: SVG charts rendered on the server with pygal (no script,
no request to anyone else), and CSV files of every table.

A chart draws the same numbers as the table printed beside it, which is what screen
readers read; a suppressed cell ("< 5", "*") is a hatched bar labelled "hidden (small
number)", of a length that says nothing (the suppression threshold), never a made-up
count nor nothing at all (which would read as zero).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import pygal
from django.utils import formats
from django.utils.translation import gettext as _
from pygal.style import Style

from reports.report_model import MIN_CELL, Table

# The pages' own colours; text large enough to read on a phone.
CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1a1a1a",
    foreground_strong="#1a1a1a",
    foreground_subtle="#6b6b6b",
    colors=("#0b5394",),
    font_family="system-ui, sans-serif",
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
    title_font_size=16,
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
# The hatching of a hidden count's bar.
_HATCH = (
    '<pattern id="hidden-hatch" patternUnits="userSpaceOnUse" width="8" height="8" '
    'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/>'
    '<line x1="0" y1="0" x2="0" y2="8" stroke="#6b6b6b" stroke-width="4"/></pattern>'
)
# Which tables get a chart, and which of their columns it draws.
CHARTS = {"funnel": ("step", "count"), "weekly": ("week", "count"), "unmet": ("need", "count")}


def chart_values(table: Table) -> tuple[list[str], list[int | None]]:
    """The labels and values a table's chart draws (None where the table says "< 5")."""
    label_key, value_key = CHARTS[table.name]
    labels: list[str] = []
    values: list[int | None] = []
    if table.name == "unmet":
        # One bar per need, the areas added up; a sum with a suppressed part is not drawn.
        totals: dict[str, int | None] = {}
        for row in table.rows:
            need, count = str(row["need"]), row[value_key]
            known = totals.get(need, 0)
            totals[need] = None if known is None or not isinstance(count, int) else known + count
        return list(totals), list(totals.values())
    for row in table.rows:
        label = row[label_key]
        labels.append(formats.date_format(label, "j M") if isinstance(label, date) else str(label))
        value = row[value_key]
        values.append(value if isinstance(value, int) else None)
    return labels, values


def chart_svg(table: Table) -> str:
    """The table as an SVG chart: a bar per row (a line for the weeks)."""
    labels, values = chart_values(table)
    options: dict[str, Any] = {
        "style": CHART_STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "show_legend": False,
        "print_values": table.name != "weekly",
        "width": 800,
        "height": max(240, 48 * len(labels) + 80) if table.name != "weekly" else 320,
        "margin": 16,
        "show_y_guides": table.name == "weekly",
        "truncate_label": -1,
        "defs": [_HATCH],
    }
    if table.name == "weekly":
        chart = pygal.Bar(**options, x_label_rotation=40, show_minor_x_labels=False)
        chart.x_labels_major = labels[:: max(1, len(labels) // 8)]
    else:
        # pygal stacks horizontal bars from the bottom: reversed, they read top-down in
        # the table's order.
        chart = pygal.HorizontalBar(**options)
        labels, values = labels[::-1], values[::-1]
    chart.x_labels = labels
    hidden = str(_("hidden (small number)"))
    drawn: list[Any] = [
        value
        if value is not None
        else {
            "value": MIN_CELL,
            "style": "fill: url(#hidden-hatch); stroke: #6b6b6b; stroke-width: 1",
            "formatter": lambda _value, label=hidden: label,
            "label": hidden,
        }
        for value in values
    ]
    chart.add(str(table.columns[1].label), drawn)
    svg: str = chart.render(is_unicode=True)
    # pygal always writes its tooltip configuration as an inline script; the pages run
    # no script of anyone else's, and a chart needs none.
    return _SCRIPT.sub("", svg)


def table_csv(table: Table) -> str:
    """A table as CSV, the column labels in the reader's language as the header; "< 5"
    stays as it is."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_cell(row.get(c.key)) for c in table.columns])
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # A name an organisation typed must not run as a formula in a spreadsheet.
        return "'" + value
    return value
