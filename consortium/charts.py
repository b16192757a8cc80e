"""Small server-side SVG charts for the workplace dashboard: no JavaScript, no CDN.

`stacked_bars` draws one bar per day, stacked by series, with a tooltip per segment (`<title>`),
a light grid, the scale's maximum and the first, middle and last dates. Colours are CSS classes
(`s-ok`, `s-bad`, …) defined in `workplace.css`, so both admin themes work.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Series:
    name: str
    css: str
    values: list[int]


WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 480, 150, 34, 18, 8


def _nice_max(value: int) -> int:
    """The smallest of 2, 4, 6, 10, 20, 40, 60, 100, … at least `value`: the scale's top, whose
    half (the middle grid line) is a whole number too."""
    step = 1
    while True:
        for factor in (2, 4, 6, 10):
            if factor * step >= value:
                return factor * step
        step *= 10


def stacked_bars(*, days: list[date], series: list[Series], title: str) -> SafeString:
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.72, 1.0)
    parts: list[str] = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(format_html('<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - 4, _n(y), _n(y)))
        parts.append(format_html('<text x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 4, _n(y + 3), _label(top * fraction)))
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for s in series:
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(format_html(
                '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {} {}</title></rect>',
                s.css, _n(x), _n(y), _n(bar), _n(h), day.isoformat(), value, s.name,
            ))
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else []:
        anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
        x = LEFT + i * slot + (slot / 2 if anchor == "middle" else 0 if anchor == "start" else slot)
        parts.append(format_html('<text x="{}" y="{}" text-anchor="{}">{}</text>', _n(x), HEIGHT - 4, anchor, days[i].strftime("%d %b")))
    svg = format_html(
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>',
        WIDTH, HEIGHT, title, mark_safe("".join(parts)),  # noqa: S308 - every part was built by format_html
    )
    legend = format_html_join(
        "", '<span class="{}">{} ({})</span>', ((s.css, s.name, sum(s.values)) for s in series)
    )
    return format_html('<div class="chart"><h3>{}</h3>{}<div class="legend">{}</div></div>', title, svg, legend)


def _n(value: float) -> str:
    return f"{value:.1f}"


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 1 or value == 0 else f"{value:.1f}"
