"""Where in an image a concept is, and how strongly: concept maps and presence from stored CAVs.

A CAV is a direction in a layer's activations. For one image:

- its **presence** is the image's activation projected on the CAV, pooled as the CAV was
  fitted (:func:`projection`);
- its **concept map** is the same projection taken position by position (:func:`concept_map`):
  with pooling ``spatial_mean`` the CAV has one weight per channel and the map at ``(h, w)`` is
  ``act[h, w, :] . cav``; with ``none`` it has one weight per position and channel and the map is
  ``sum_c act[h, w, c] * cav[h, w, c]``. The map's mean (``spatial_mean``) or sum (``none``) over
  positions is the presence, so the map says how the presence is spread over the image.

Raw projections have no unit (a CAV's norm is arbitrary). :func:`calibrate` puts them on the
scale of the sets the CAV was learned from: 0 is the random set's mean projection, 1 the
concept images' mean. Over several CAVs of a concept (one per random set) calibrated values
are averaged. Plain functions over arrays: the explorer and the report stage both use them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tcavcore.cav_store import StoredCav

POOLINGS = ("none", "spatial_mean")


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


def concept_map(acts: np.ndarray, vector: np.ndarray, pooling: str) -> np.ndarray:
    """Per-position projection of ``acts`` (``(h, w, c)`` or ``(n, h, w, c)``) on the CAV ``vector``.

    ``vector`` is the CAV as stored: ``(c,)`` for ``spatial_mean``, ``(h*w*c,)`` for ``none``.
    Returns ``(h, w)`` (or ``(n, h, w)``).
    """
    _check_pooling(pooling)
    acts = np.asarray(acts, dtype=np.float64)
    if acts.ndim not in (3, 4):
        raise ValueError(f"acts must be (h, w, c) or (n, h, w, c) activations of a conv layer, got shape {acts.shape}")
    vector = np.asarray(vector, dtype=np.float64).ravel()
    h, w, c = acts.shape[-3:]
    if pooling == "spatial_mean":
        if vector.size != c:
            raise ValueError(f"a spatial_mean CAV has one weight per channel ({c}), got {vector.size}")
        return acts @ vector
    if vector.size != h * w * c:
        raise ValueError(f"a pooling-none CAV has one weight per position and channel ({h}x{w}x{c}), got {vector.size}")
    return np.sum(acts * vector.reshape(h, w, c), axis=-1)


def projection(acts: np.ndarray, vector: np.ndarray, pooling: str) -> np.ndarray:
    """Presence of each image of ``acts`` (``(n, ...)``): its activation, pooled as for the fit, dot the CAV."""
    _check_pooling(pooling)
    acts = np.asarray(acts, dtype=np.float64)
    if pooling == "spatial_mean" and acts.ndim == 4:
        acts = acts.mean(axis=(1, 2))
    return acts.reshape(len(acts), -1) @ np.asarray(vector, dtype=np.float64).ravel()


def positions_per_presence(pooling: str, height: int, width: int) -> int:
    """How many map positions make up one unit of presence: the map's sum (``none``) or mean is the presence."""
    _check_pooling(pooling)
    return height * width if pooling == "none" else 1


def calibrate(values: np.ndarray, cav: StoredCav) -> np.ndarray:
    """``values`` (projections on ``cav``) on the scale 0 = random set's mean, 1 = concept images' mean.

    NaN when the two means are equal (the CAV does not tell the sets apart).
    """
    low, high = float(np.mean(cav.random_projections)), float(np.mean(cav.concept_projections))
    values = np.asarray(values, dtype=np.float64)
    if high == low:
        return np.full(values.shape, np.nan)
    return (values - low) / (high - low)


def calibrated_concept_map(acts: np.ndarray, cavs: Sequence[StoredCav], pooling: str) -> np.ndarray:
    """Concept map of one image's ``acts`` ``(h, w, c)``, calibrated per CAV and averaged over ``cavs``.

    Each position's value is scaled like a whole image's presence (times the positions per
    unit, :func:`positions_per_presence`), so the map's mean is :func:`calibrated_presence`.
    """
    if not cavs:
        raise ValueError("no CAV given")
    h, w = np.asarray(acts).shape[:2]
    share = positions_per_presence(pooling, h, w)
    return np.mean([calibrate(concept_map(acts, cav.vector, pooling) * share, cav) for cav in cavs], axis=0)


def calibrated_presence(acts: np.ndarray, cavs: Sequence[StoredCav], pooling: str) -> np.ndarray:
    """Presence of each image of ``acts`` ``(n, ...)`` on the calibrated scale, averaged over ``cavs``."""
    if not cavs:
        raise ValueError("no CAV given")
    return np.mean([calibrate(projection(acts, cav.vector, pooling), cav) for cav in cavs], axis=0)


def reference_presences(cavs: Sequence[StoredCav]) -> tuple[np.ndarray, np.ndarray]:
    """(concept images, random images) presences on the calibrated scale: what one image is placed against.

    A concept image's value is averaged over the CAVs (it is projected on each); the random
    images are those of every CAV's own random set, each on its CAV's scale.
    """
    if not cavs:
        raise ValueError("no CAV given")
    concept = np.mean([calibrate(c.concept_projections, c) for c in cavs], axis=0)
    random = np.concatenate([calibrate(c.random_projections, c) for c in cavs])
    return concept, random


def interpolation_matrix(source: int, target: int) -> np.ndarray:
    """``(target, source)`` weights of linear interpolation with pixel centres aligned (as PIL and TF resize)."""
    if source < 1 or target < 1:
        raise ValueError(f"sizes must be positive, got {source} -> {target}")
    centres = (np.arange(target) + 0.5) * source / target - 0.5
    centres = np.clip(centres, 0, source - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, source - 1)
    frac = centres - low
    weights = np.zeros((target, source))
    weights[np.arange(target), low] += 1 - frac
    weights[np.arange(target), high] += frac
    return weights


def upsample(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """A ``(h, w)`` map resized bilinearly to ``(height, width)`` (the image's size), to lay over it.

    Each output pixel is a convex combination of the nearest map positions, so a constant
    map stays constant and the value range never grows.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"a concept map is 2-D (h, w), got shape {values.shape}")
    rows = interpolation_matrix(values.shape[0], height)
    columns = interpolation_matrix(values.shape[1], width)
    return rows @ values @ columns.T


def image_concept_maps(model, images: np.ndarray, store) -> dict[str, np.ndarray]:
    """Calibrated concept maps and presences of ``images`` for every concept and bottleneck of ``store``.

    ``model``: anything with ``activations_at(images, bottlenecks)`` (the engine's
    ``BatchedModel``); ``store``: a :class:`tcavcore.cav_store.CavStore`. Returns arrays by
    name: ``presence/<bottleneck>/<concept>`` ``(n,)`` and, at layers with spatial axes,
    ``maps/<bottleneck>/<concept>`` ``(n, h, w)`` at the layer's resolution (upsample to show),
    plus ``cav_accuracy/<bottleneck>/<concept>``, the mean held-out accuracy of its CAVs.
    """
    out: dict[str, np.ndarray] = {}
    if not store.cavs:
        return out
    acts = model.activations_at(images, list(store.bottlenecks))
    for bottleneck in store.bottlenecks:
        for concept in store.concepts:
            cavs = store.select(concept, bottleneck)
            if not cavs:
                continue
            key = f"{bottleneck}/{concept}"
            layer = acts[bottleneck]
            out[f"presence/{key}"] = calibrated_presence(layer, cavs, store.pooling)
            out[f"cav_accuracy/{key}"] = np.array(np.mean([c.accuracy for c in cavs]))
            if layer.ndim == 4:
                out[f"maps/{key}"] = np.stack([calibrated_concept_map(a, cavs, store.pooling) for a in layer])
    return out
