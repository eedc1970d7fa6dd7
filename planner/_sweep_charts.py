"""Charts of a sweep: covered share against each axis, as plain SVG (no plotting library).

One chart per axis with more than one value: the axis along the bottom, the covered share of each tier up the
side, one line per combination of the other axes (the others named in the legend).
"""

from __future__ import annotations

import html
import logging
import math
import re
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Axis labels a planner reads (Chinese first, for the officials who read the charts).
_LABELS = {
    "network.speed_mps": "步行速度 walking speed (m/s)",
    "network.speed": "步行速度 walking speed",
    "threshold_min": "步行时间 walk threshold (min)",
    "new": "新建数量 new sites",
    "upgrade": "提升数量 upgraded sites",
    "exclude": "不可用用地 excluded sites",
    "joint.budget": "预算 budget",
    "solver.method": "求解方法 solver method",
}
_Y_LABEL = "覆盖老年人比例 older residents covered"
#: Lines drawn in one chart at most (the legend says how many more there are).
MAX_LINES = 12
_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
)
_W, _H = 820, 420
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 300, 40, 60


def axis_label(axis: str) -> str:
    """A readable label of a dotted key (``tiers.centre.new`` -> ``新建数量 new sites (centre)``)."""
    parts = axis.split(".")
    if parts[0] == "tiers" and len(parts) == 3:
        return f"{_LABELS.get(parts[2], parts[2])} ({parts[1]})"
    return _LABELS.get(axis, axis)


def short_value(axis: str, value: Any) -> str:
    """A legend entry for one value of an axis (``0.76 m/s``, ``10 min``, ``new 80``)."""
    key = axis.rsplit(".", maxsplit=1)[-1]
    units = {"speed_mps": "{} m/s", "threshold_min": "{} min", "new": "new {}", "upgrade": "upgrade {}"}
    if axis == "base":
        return str(value)
    text = f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
    return units.get(key, key + " {}").format(text)


def chart_file(axis: str) -> str:
    """File name of an axis' chart: ``chart_<dotted key with _ for anything but letters and digits>.svg``."""
    return "chart_" + re.sub(r"[^0-9A-Za-z]+", "_", axis).strip("_") + ".svg"


def write_charts(sweep, table, folder: Path) -> list[Path]:
    """Write one SVG chart per axis that takes more than one value; return their paths."""
    shares = [c for c in table.columns if c.startswith("covered_share_")]
    done = table[table["outcome"] == "done"]
    paths = []
    for axis in sweep.axes:
        if done.empty or done[axis].astype(str).nunique() < 2 or not shares:
            continue
        others = [a for a in ("base", *sweep.axes) if a != axis and done[a].astype(str).nunique() > 1]
        parts = axis.split(".")
        drawn = (
            [f"covered_share_{parts[1]}"] if parts[0] == "tiers" else shares
        )  # a tier's axis moves it only
        series = []
        for share in [c for c in shares if c in drawn]:
            tier = share.removeprefix("covered_share_")
            # another tier's axis does not move this tier (solved apart): one line per value of the rest
            mine = [o for o in others if not o.startswith("tiers.") or o.split(".")[1] == tier]
            rows = done.drop_duplicates([*mine, axis]) if len(mine) < len(others) else done
            groups = rows.groupby(mine, sort=False, dropna=False) if mine else [((), rows)]
            for group, part in groups:
                values = group if isinstance(group, tuple) else (group,)
                label = " · ".join([tier, *(short_value(o, k) for o, k in zip(mine, values, strict=True))])
                series.append((label, list(part[axis]), list(part[share])))
        svg = line_chart(
            series,
            title=f"{sweep.name}: {axis_label(axis)}",
            x_label=axis_label(axis),
            y_label=_Y_LABEL,
        )
        path = folder / chart_file(axis)
        path.write_text(svg, encoding="utf-8")
        paths.append(path)
    return paths


def line_chart(series: list[tuple[str, list, list]], *, title: str, x_label: str, y_label: str) -> str:
    """An SVG line chart of shares (0-1) against numbers, or against categories when the x are not numbers.

    Parameters
    ----------
    series
        ``(label, xs, ys)`` per line; ys are shares (drawn as per cent), NaN points are left out.
    title, x_label, y_label
        Texts of the chart.

    Returns
    -------
    str
        The ``<svg>`` document.
    """
    xs_all = [x for _, xs, _ in series for x in xs]
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs_all)
    if numeric:
        cats: list[Any] = []
        lo_x, hi_x = min(xs_all), max(xs_all)
    else:
        cats = list(dict.fromkeys(str(x) for x in xs_all))
        lo_x, hi_x = 0, max(len(cats) - 1, 1)
    hi_x = hi_x if hi_x > lo_x else lo_x + 1
    ys_all = [y for _, _, ys in series for y in ys if not math.isnan(y)]
    lo_y, hi_y = _nice_range(min(ys_all, default=0.0), max(ys_all, default=1.0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x) -> float:
        v = float(x) if numeric else cats.index(str(x))
        return _LEFT + (v - lo_x) / (hi_x - lo_x) * plot_w

    def py(y: float) -> float:
        return _TOP + plot_h - (y - lo_y) / (hi_y - lo_y) * plot_h

    esc = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        'font-family="Noto Sans CJK SC, Microsoft YaHei, PingFang SC, sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<text x="{_LEFT}" y="22" font-size="14" font-weight="bold">{esc(title)}</text>',
    ]
    for y in _ticks(lo_y, hi_y):
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>'
            f'<text x="{_LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.0%}</text>'
        )
    ticks = sorted(set(xs_all)) if numeric else cats
    for x in ticks[:20]:
        label = f"{x:g}" if numeric else str(x)
        out.append(f'<text x="{px(x):.1f}" y="{_TOP + plot_h + 18}" text-anchor="middle">{esc(label)}</text>')
    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>'
        f'<text x="{_LEFT + plot_w / 2}" y="{_H - 15}" text-anchor="middle">{esc(x_label)}</text>'
        f'<text transform="translate(18 {_TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        f"{esc(y_label)}</text>"
    )
    for n, (label, xs, ys) in enumerate(series[:MAX_LINES]):
        colour = _COLOURS[n % len(_COLOURS)]
        pts = sorted(
            ((px(x), py(y)) for x, y in zip(xs, ys, strict=True) if not math.isnan(y)), key=lambda p: p[0]
        )
        if not pts:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in pts)
        ly = _TOP + 14 + 18 * n
        out.append(
            f'<line x1="{_W - _RIGHT + 16}" x2="{_W - _RIGHT + 36}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<text x="{_W - _RIGHT + 42}" y="{ly}">{esc(label)}</text>'
        )
    if len(series) > MAX_LINES:
        more = len(series) - MAX_LINES
        log.info(
            "chart %s: %d lines not drawn (at most %d); sweep.csv holds them all", title, more, MAX_LINES
        )
        out.append(
            f'<text x="{_W - _RIGHT + 16}" y="{_TOP + 14 + 18 * MAX_LINES}">'
            f"+{more} more lines not drawn (see sweep.csv)</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2)


def _step(lo: float, hi: float) -> float:
    return next((s for s in _STEPS if (hi - lo) / s <= 8), 0.2)


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    """The shares' range widened to whole tick steps (1 % to 20 %, at most 8 steps), inside 0-100 %."""
    step = _step(lo, hi)
    lo_r = max(0.0, step * math.floor(lo / step + 1e-9))
    hi_r = min(1.0, step * math.ceil(hi / step - 1e-9))
    if hi_r - lo_r < step:
        hi_r = min(1.0, lo_r + step)
        lo_r = hi_r - step
    return lo_r, hi_r


def _ticks(lo: float, hi: float) -> list[float]:
    step = _step(lo, hi)
    n = round((hi - lo) / step)
    return [lo + step * k for k in range(n + 1)]
