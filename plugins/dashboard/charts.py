"""Charts drawn on the server as SVG: no script, nothing fetched; each bar part names its day, series and value."""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from .formatting import tokens, usd

# Okabe-Ito: told apart also with the common colour-vision deficiencies; the last one is "other".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288")
OTHER_COLOUR = "#999999"

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 28


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def stacked_bars(days: list[str], series: list[dict], label: str, money: bool = False) -> Markup:
    """Bars per day, stacked by series (``{"name", "colour", "values": one per day}``), as an SVG element.

    ``money``: the values are nano-dollars (written as USD), else tokens.
    """
    axis_text = usd if money else tokens
    value_text = usd if money else (lambda value: f"{value:,} tokens")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    totals = [sum(s["values"][index] for s in series) for index in range(len(days))]
    top = nice_ceiling(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
             'xmlns="http://www.w3.org/2000/svg">']
    # The value axis: 0 to the top in quarters, or in fifths for a top of 5 (round labels: $0.10, not $0.125).
    steps = 5 if f"{top:e}".startswith("5") else 4
    for step in range(steps + 1):
        value = top * step / steps
        y = TOP + plot_h - plot_h * step / steps
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{axis_text(int(value))}</text>')
    label_every = max(1, math.ceil(len(days) / 10))
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar) / 2
        base = TOP + plot_h
        for s in series:
            value = s["values"][index]
            if not value:
                continue
            height = plot_h * value / top
            base -= height
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                         f'fill="{s["colour"]}"><title>{escape(day)} · {escape(s["name"])}: '
                         f'{value_text(value)}</title></rect>')
        if index % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="axis">'
                         f'{escape(day[5:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
