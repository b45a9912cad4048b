"""2-D projections of activations: PCA, t-SNE and UMAP behind one small interface.

:func:`fit_projection` fits one of them, seeded; the result keeps the fitted points' coordinates
and, for PCA and UMAP, can place new points on the same map (:meth:`Projection.place`). t-SNE
has no such transform: it only lays out the points it was fitted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: The methods that can place new points on a map fitted to other points.
PLACES_NEW_POINTS = ("pca", "umap")


@dataclass
class Projection:
    """A fitted 2-D map: the method, the fitted points' coordinates and, for PCA, the variance
    ratio of the two axes."""

    method: str
    xy: np.ndarray
    explained: np.ndarray | None
    _estimator: Any = None

    def place(self, features: np.ndarray) -> np.ndarray:
        """Coordinates of new points on this map (PCA: the same linear map; UMAP: its transform,
        which places each point among its nearest fitted neighbours). Not for t-SNE."""
        if self.method not in PLACES_NEW_POINTS:
            raise ValueError(f"a {self.method} map cannot place new points (only {', '.join(PLACES_NEW_POINTS)})")
        return np.asarray(self._estimator.transform(features), dtype=np.float32)


def fit_projection(features: np.ndarray, method: str, seed: int) -> Projection:
    """Fit a 2-D ``method`` projection (``pca``, ``tsne`` or ``umap``) of ``features`` (n, d), seeded.

    The same features and seed give the same coordinates on every run (UMAP with a
    ``random_state`` runs single-threaded for that reason).
    """
    features = np.asarray(features, dtype=np.float64)
    if method == "pca":
        from sklearn.decomposition import PCA

        # Full SVD: exact and independent of the seed; the seed is there for the other solvers.
        pca = PCA(n_components=2, svd_solver="full", random_state=seed)
        xy = pca.fit_transform(features)
        return Projection("pca", xy.astype(np.float32), pca.explained_variance_ratio_.astype(np.float32), pca)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
        tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity)
        return Projection("tsne", tsne.fit_transform(features).astype(np.float32), None)
    if method == "umap":
        import warnings

        with warnings.catch_warnings():
            # umap imports TensorFlow for its parametric variant and warns about n_jobs with a seed
            warnings.simplefilter("ignore")
            import umap

            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(features) - 1), random_state=seed, n_jobs=1)
            xy = reducer.fit_transform(features)
        return Projection("umap", np.asarray(xy, dtype=np.float32), None, reducer)
    raise ValueError(f"unknown projection {method!r}: expected pca, tsne or umap")
