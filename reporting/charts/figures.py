"""Figure plumbing shared by every chart (matplotlib without pyplot, Agg, byte-identical PNGs).

Kept apart from :mod:`reporting.charts.base` (which adds the findings' marks, and with them the
method's code) so that the views stage can draw its training-time frames with nothing but this.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on build machines; the Figure below never needs pyplot anyway

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DPI = 100
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "hatch.linewidth": 0.8,
}
# Okabe-Ito: distinguishable with the common colour-vision deficiencies (never pure red or blue,
# which are concepts themselves).
CLASS_COLORS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


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
