"""The charts' shared style: the figure plumbing (:mod:`reporting.charts.figures`), the findings' marks
and the bottlenecks' colours."""

from __future__ import annotations

from reporting.charts.figures import DPI, RC, new_figure, png_bytes  # noqa: F401  (the charts import them from here)
from tcavcore.confirmation import STATUS_CONFIRMED, STATUS_CONTRADICTED, STATUS_UNCONFIRMED

#: How a significant finding's status after the tests on images (insertion and scene) is marked on the charts.
STATUS_MARKS = {STATUS_CONFIRMED: " \u2713", STATUS_UNCONFIRMED: " ?", STATUS_CONTRADICTED: " \u2717"}

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
BOTTLENECK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
