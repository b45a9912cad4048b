"""The learned concept CAVs of a run, kept for looking at single images (``results/cavs.npz``).

The tcav stage scores every CAV and drops it; the explorer and the report's concept maps need
them again: for an image, *how present* a concept is (its activation projected on the CAV,
placed against the same projection of the concept's own images and of the random set's) and
*where* (:mod:`tcavcore.concept_maps`). So for every (concept, random set, bottleneck, alpha)
the store keeps the CAV's vector exactly as it was scored (flattened; of size H*W*C with
pooling ``none``, C with ``spatial_mean``), its held-out accuracy, and the projections of both
image sets' activations, pooled as the CAV was fitted. Random-vs-random CAVs are not kept:
no image is asked how "random" it is.

The file is a plain ``.npz`` (no pickle): a ``meta`` JSON string and, per CAV ``i``, the
arrays ``vector_i``, ``concept_projections_i`` and ``random_projections_i``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from tcavcore.cav import LearnedCav

FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoredCav:
    """One concept CAV with what a single image's presence is compared with."""

    concept: str
    random: str
    bottleneck: str
    alpha: float
    vector: np.ndarray  # flattened, pointing toward the concept, as scored
    accuracy: float  # held-out accuracy of the CAV's classifier
    concept_projections: np.ndarray  # (n_concept,): each concept image's pooled activation . vector
    random_projections: np.ndarray  # (n_random,): the same for the random set's images


@dataclass
class CavStore:
    """Every concept CAV of a run, and how activations were pooled before fitting them.

    ``shapes``: activation shape of one image at each bottleneck (``(h, w, c)`` for a conv
    layer), so a flattened ``none`` CAV can be laid back over the positions.
    """

    pooling: str
    shapes: dict[str, tuple[int, ...]]
    cavs: list[StoredCav] = field(default_factory=list)

    @property
    def concepts(self) -> list[str]:
        """Concept names, in the order they were learned."""
        return list(dict.fromkeys(c.concept for c in self.cavs))

    @property
    def bottlenecks(self) -> list[str]:
        """Bottleneck names, in the order they were learned."""
        return list(dict.fromkeys(c.bottleneck for c in self.cavs))

    @property
    def alphas(self) -> list[float]:
        """Regularisation strengths the CAVs were fitted with."""
        return list(dict.fromkeys(c.alpha for c in self.cavs))

    def select(self, concept: str, bottleneck: str, alpha: float | None = None) -> list[StoredCav]:
        """The CAVs of ``concept`` at ``bottleneck`` (one per random set), for ``alpha`` (default: the first)."""
        alpha = self.alphas[0] if alpha is None and self.cavs else alpha
        return [c for c in self.cavs if c.concept == concept and c.bottleneck == bottleneck and c.alpha == alpha]


def stored_cav(cav: LearnedCav, concept_acts: np.ndarray, random_acts: np.ndarray) -> StoredCav:
    """``cav`` with the projections of the activations it was fitted on (``(n, ...)``, pooled as for the fit).

    Every image of both sets is projected, not only the ones the fit kept after truncating
    the larger set: they are samples of what the concept and random images look like there.
    """
    vector = np.asarray(cav.vector, dtype=np.float64)

    def project(acts: np.ndarray) -> np.ndarray:
        return np.asarray(acts, dtype=np.float64).reshape(len(acts), -1) @ vector

    return StoredCav(cav.concept, cav.random, cav.bottleneck, float(cav.alpha), vector, float(cav.accuracy),
                     project(concept_acts), project(random_acts))


def sort_cavs(cavs: Iterable[StoredCav], concepts: Sequence[str], randoms: Sequence[str], bottlenecks: Sequence[str],
              alphas: Sequence[float]) -> list[StoredCav]:
    """``cavs`` in the run's order (bottleneck, alpha, concept, random set): CAVs arrive in no fixed order."""
    rank = {(b, a, c, r): i for i, (b, a, c, r) in
            enumerate((b, a, c, r) for b in bottlenecks for a in alphas for c in concepts for r in randoms)}
    return sorted(cavs, key=lambda cav: rank[cav.bottleneck, cav.alpha, cav.concept, cav.random])


def cav_store_arrays(store: CavStore) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file (see the module docstring)."""
    meta = {
        "format": FORMAT_VERSION,
        "pooling": store.pooling,
        "shapes": {name: list(shape) for name, shape in store.shapes.items()},
        "cavs": [{"concept": c.concept, "random": c.random, "bottleneck": c.bottleneck, "alpha": c.alpha,
                  "accuracy": c.accuracy} for c in store.cavs],
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for i, cav in enumerate(store.cavs):
        arrays[f"vector_{i}"] = cav.vector
        arrays[f"concept_projections_{i}"] = cav.concept_projections
        arrays[f"random_projections_{i}"] = cav.random_projections
    return arrays


def write_cav_store(path: str | os.PathLike, store: CavStore) -> None:
    """Write ``store`` to ``path`` atomically and byte-stably (equal CAVs, equal file)."""
    from common.files import atomic_write_bytes, npz_bytes

    atomic_write_bytes(path, npz_bytes(cav_store_arrays(store)))


class CavStoreError(ValueError):
    """The CAV file is missing, damaged or of another format; the message names it."""


def read_cav_store(path: str | os.PathLike) -> CavStore:
    """The store written by :func:`write_cav_store`; :class:`CavStoreError` naming ``path`` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CavStoreError(f"{path}: not found (the tcav stage writes it; run `make run` or `dvc repro`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT_VERSION:
            raise CavStoreError(f"{path}: CAV file format {meta.get('format')!r}, expected {FORMAT_VERSION}; "
                                "rerun the tcav stage")
        cavs = [StoredCav(e["concept"], e["random"], e["bottleneck"], float(e["alpha"]), arrays[f"vector_{i}"],
                          float(e["accuracy"]), arrays[f"concept_projections_{i}"], arrays[f"random_projections_{i}"])
                for i, e in enumerate(meta["cavs"])]
        shapes = {name: tuple(int(v) for v in shape) for name, shape in meta["shapes"].items()}
        return CavStore(str(meta["pooling"]), shapes, cavs)
    except CavStoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CavStoreError(f"{path}: not a readable CAV file ({type(error).__name__}: {error}); "
                            "rerun the tcav stage") from None
