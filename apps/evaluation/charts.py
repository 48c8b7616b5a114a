"""Small charts as inline SVG, drawn on the server: no JavaScript library, no network.

Every element is built with ``format_html``, which escapes each value it is given, so a
label or tooltip can never close an attribute or open a tag. Colours are inline fills, so
an SVG stays self-contained wherever it is embedded (a page, a PDF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

# Order of the stacks, bottom to top, with their fill and legend label.
SERIES = (
    ("pass", "#1e7a4c", "pass"),
    ("excepted", "#d89a2b", "excepted"),
    ("fail", "#b3261e", "fail"),
    ("not_assessed", "#9aa3ad", "not assessed"),
    ("evidenced", "#7fb89a", "evidenced"),
    ("evidence_stale", "#e6c27a", "evidence stale"),
    ("evidence_missing", "#d99a95", "evidence missing"),
)
# Statuses of requirements no rule tests (apps/controls/evidence_status.py): one block, no population.
MANUAL_EVIDENCE = frozenset(("evidenced", "evidence_missing", "evidence_stale"))
FILL = {key: fill for key, fill, _ in SERIES}
EMPTY_FILL = "#eef0f3"


@dataclass(frozen=True)
class TrendPoint:
    """One requirement in one evaluation (``status`` None: not in that evaluation)."""

    label: str  # e.g. "#12 · 2026-11-01 10:00"
    status: str | None = None
    population: int = 0
    failed: int = 0
    excepted: int = 0
    not_assessed: int = 0


@dataclass(frozen=True)
class PosturePoint:
    """How many requirements had each status in one evaluation."""

    label: str  # tooltip, e.g. "#12 · 2026-11-01 10:00"
    tick: str  # x-axis label, e.g. "11-01"
    counts: dict[str, int]


def svg_join(parts: Sequence) -> SafeString:
    """The parts of an SVG as one safe string. Every part comes from ``format_html`` (already
    escaped); a plain string is escaped here, so a label can never open a tag."""
    return mark_safe("".join(str(conditional_escape(p)) for p in parts))


def svg_number(value: float) -> str:
    """A coordinate as SVG text: one decimal at most, no trailing zeros (``12.5``, ``3``)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def requirement_trend(points: Sequence[TrendPoint], *, bar_width: int = 9, gap: int = 2, height: int = 22) -> SafeString:
    """A stacked bar per evaluation, oldest first: the share of the population that passed,
    was excepted, failed or was not assessed. An empty population is one block of the
    requirement's status; a requirement no rule tests is one block of its manual-evidence status."""
    if not points:
        return SafeString("")
    width = len(points) * (bar_width + gap) - gap
    parts = []
    for i, point in enumerate(points):
        x = i * (bar_width + gap)
        tip = _trend_tip(point)
        parts.append(format_html("<g><title>{}</title>", tip))
        if point.status is None:
            parts.append(format_html('<rect x="{}" y="0" width="{}" height="{}" fill="{}"/>', x, bar_width, height, EMPTY_FILL))
        elif point.population <= 0 or point.status in MANUAL_EVIDENCE:
            parts.append(
                format_html(
                    '<rect x="{}" y="0" width="{}" height="{}" fill="{}"/>', x, bar_width, height, FILL.get(point.status, EMPTY_FILL)
                )
            )
        else:
            passed = max(0, point.population - point.failed - point.excepted - point.not_assessed)
            y = float(height)
            for key, value in (
                ("pass", passed),
                ("excepted", point.excepted),
                ("fail", point.failed),
                ("not_assessed", point.not_assessed),
            ):
                if value <= 0:
                    continue
                # A single failure in a large population must still be visible: at least 2 px.
                h = max(2.0, height * value / point.population)
                y -= h
                parts.append(
                    format_html(
                        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                        x,
                        svg_number(max(y, 0)),
                        bar_width,
                        svg_number(h),
                        FILL[key],
                    )
                )
        parts.append(SafeString("</g>"))
    summary = f"trend over the last {len(points)} evaluations"
    return format_html(
        '<svg class="chart trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}">{body}</svg>',
        w=width,
        h=height,
        label=summary,
        body=svg_join(parts),
    )


def _trend_tip(point: TrendPoint) -> str:
    if point.status is None:
        return f"{point.label}: not in this evaluation"
    status = point.status.replace("_", " ")
    if point.status in MANUAL_EVIDENCE:
        return f"{point.label}: {status} (no rule tests it: its controls' manual evidence)"
    return (
        f"{point.label}: {status} · {point.failed} failed, {point.excepted} excepted, "
        f"{point.not_assessed} not assessed of {point.population}"
    )


def posture_chart(
    points: Sequence[PosturePoint],
    *,
    width: int = 760,
    height: int = 240,
    title: str = "Requirements tested by rules, by status, per evaluation",
) -> SafeString:
    """Stacked bars: per evaluation (oldest first), how many of the requirements that rules
    test passed, were excepted, failed or were not assessed. Requirements proven by manual
    evidence only are left out: they would be the same block in every bar."""
    left, right, top, bottom = 34, 10, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    series = [s for s in SERIES if s[0] not in MANUAL_EVIDENCE]
    total = max((sum(n for k, n in p.counts.items() if k not in MANUAL_EVIDENCE) for p in points), default=0)
    scale_max = max(total, 1)
    parts = [format_html("<title>{}</title>", title)]
    # Horizontal grid with 0, half and full ticks.
    for frac in (0, 0.5, 1):
        value = round(scale_max * frac)
        y = top + plot_h - plot_h * (value / scale_max)
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#dde3ea" stroke-width="1"/>',
                left,
                width - right,
                svg_number(y),
                svg_number(y),
            )
        )
        parts.append(
            format_html('<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#5d6b7a">{}</text>', left - 4, svg_number(y + 3), value)
        )
    if points:
        slot = plot_w / len(points)
        bar = max(4.0, min(36.0, slot * 0.7))
        every = max(1, len(points) // 8)  # at most ~8 x labels
        for i, point in enumerate(points):
            x = left + i * slot + (slot - bar) / 2
            y = float(top + plot_h)
            tip = (
                point.label
                + " · "
                + (", ".join(f"{point.counts.get(k, 0)} {label}" for k, _, label in series if point.counts.get(k)) or "none")
            )
            parts.append(format_html("<g><title>{}</title>", tip))
            for key, fill, _label in series:
                n = point.counts.get(key, 0)
                if n <= 0:
                    continue
                h = plot_h * n / scale_max
                y -= h
                parts.append(
                    format_html(
                        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                        svg_number(x),
                        svg_number(y),
                        svg_number(bar),
                        svg_number(h),
                        fill,
                    )
                )
            parts.append(SafeString("</g>"))
            if i % every == 0 or i == len(points) - 1:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#5d6b7a">{}</text>',
                        svg_number(x + bar / 2),
                        top + plot_h + 14,
                        point.tick,
                    )
                )
    else:
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="#5d6b7a">{}</text>',
                left + plot_w // 2,
                top + plot_h // 2,
                "No evaluation yet",
            )
        )
    # Legend along the top.
    x = left
    for _key, fill, label in series:
        parts.append(format_html('<rect x="{}" y="6" width="10" height="10" fill="{}"/>', x, fill))
        parts.append(format_html('<text x="{}" y="15" font-size="11" fill="#1b2430">{}</text>', x + 14, label))
        x += 14 + 7 * len(label) + 16
    return format_html(
        '<svg class="chart posture" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" role="img" aria-label="{label}" '
        'preserveAspectRatio="xMinYMin meet">{body}</svg>',
        w=width,
        h=height,
        label=title,
        body=svg_join(parts),
    )
