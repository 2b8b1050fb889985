"""The /usage chart: daily cost by feature as stacked bars, rendered to PNG bytes.

matplotlib is imported on the first chart, not at start-up (it costs ~40 MB and ~0.5 s), and the
caller runs this in a worker thread: only the object-oriented Figure API is used (no pyplot global
state), which is safe off the main thread.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal


def day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def render_daily_cost(days: list[date], cost: dict[date, dict[str, Decimal]], features: list[str]) -> bytes:
    """PNG of cost per day (x) stacked by feature; labels are ids and ISO dates, readable in any
    language and drawable without CJK fonts."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    positions = list(range(len(days)))
    bottom = [0.0] * len(days)
    for feature in features:
        heights = [float(cost.get(day, {}).get(feature, Decimal(0))) for day in days]
        axes.bar(positions, heights, bottom=bottom, label=feature, width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(days) // 10)
    axes.set_xticks(positions[::step], [day.strftime("%m-%d") for day in days[::step]])
    axes.set_ylabel("USD")
    axes.grid(axis="y", alpha=0.3)
    if features:
        axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


__all__ = ["day_range", "render_daily_cost"]
