"""The charts' shared style and plumbing (matplotlib without pyplot, Agg, byte-identical PNGs)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on build machines; the Figure below never needs pyplot anyway

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
from tcavcore.confirmation import STATUS_CONFIRMED, STATUS_CONTRADICTED, STATUS_UNCONFIRMED  # noqa: E402

#: How a significant finding's insertion-test status is marked on the charts.
STATUS_MARKS = {STATUS_CONFIRMED: " \u2713", STATUS_UNCONFIRMED: " ?", STATUS_CONTRADICTED: " \u2717"}

BOTTLENECK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DPI = 100
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "hatch.linewidth": 0.8,
}


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure of ``width`` x ``height`` inches at the charts' dpi."""
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes without software/date metadata (byte-identical reruns)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
