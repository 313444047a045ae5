"""One point's trend as an inline SVG: its readings over the last hours against its thresholds.

Drawn on the server, so the chart is there without scripts and in a plain
screenshot; a few hundred coordinates, no chart library and nothing fetched.
"""

from __future__ import annotations

from html import escape

from gateway.station_page.state import PointView

WIDTH, HEIGHT = 360, 96
LEFT, RIGHT, TOP, BOTTOM = 40, 56, 6, 16  # room for the scale and the threshold labels


def _number(value: float) -> str:
    return f"{value:.4g}"


def trend_svg(point: PointView, now: float, hours: float, label: str, empty: str) -> str:
    """The chart; ``label`` names it for screen readers, ``empty`` is shown with no readings."""
    start = now - hours * 3600
    values = [v for _, v in point.samples] + [t.at for t in point.thresholds]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    if 0 <= low < high / 2:
        low = 0.0  # a concentration or a level is read from zero; a narrow band (oxygen) is not
    pad = (high - low) * 0.08
    # Readings that never went below zero get no negative scale: it would suggest they could.
    low, high = (0.0 if 0 <= low < pad else low - pad), high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - start) / (now - start) * plot_w

    def y(v: float) -> float:
        return TOP + (high - v) / (high - low) * plot_h

    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">',
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
        f'<text class="scale" x="{LEFT - 4}" y="{TOP + 8}">{_number(high)}</text>',
        f'<text class="scale" x="{LEFT - 4}" y="{TOP + plot_h}">{_number(low)}</text>',
        f'<text class="time" x="{LEFT}" y="{HEIGHT - 3}">-{_number(hours)} h</text>',
        f'<text class="time end" x="{LEFT + plot_w}" y="{HEIGHT - 3}">0</text>',
    ]
    for threshold in point.thresholds:
        at = y(threshold.at)
        parts.append(
            f'<line class="threshold grade-{threshold.grade}" x1="{LEFT}" x2="{LEFT + plot_w}" '
            f'y1="{at:.1f}" y2="{at:.1f}" data-at="{threshold.at}"/>'
            f'<text class="threshold-label grade-{threshold.grade}" x="{LEFT + plot_w + 3}" '
            f'y="{at + 3:.1f}">{_number(threshold.at)}</text>'
        )
    if point.samples:
        coordinates = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in point.samples)
        last_t, last_v = point.samples[-1]
        parts.append(f'<polyline class="reading" points="{coordinates}"/>')
        parts.append(
            f'<circle class="latest" cx="{x(last_t):.1f}" cy="{y(last_v):.1f}" r="2.5" '
            f'data-value="{last_v}"/>'
        )
    else:
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
