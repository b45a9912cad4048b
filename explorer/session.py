"""What the explorer computes for one image: the model's view of it, as JSON-ready data.

:class:`ExplorerSession` holds the current run: the exported graph, loaded through the
project's frozen-graph wrapper (so the built-in CNN and an outside model are the same here),
the concept CAVs of ``results/cavs.npz`` and a gallery of the dataset's test images.
:meth:`ExplorerSession.analyse_bytes` takes a file as uploaded or drawn, reads it exactly as
the pipeline reads an image (the crawl's decoder and curation, then the preprocess resize)
and returns the class probabilities, the feature maps of every layer with spatial axes and,
for each concept and bottleneck, the image's presence against the concept's and the random
sets' and its concept map. Nothing is written anywhere: uploads are decoded in memory.
"""

from __future__ import annotations

import csv
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collection.validate import Rejected, inspect_image
from common.errors import PipelineError
from common.files import content_order, list_images
from common.params import Params
from explorer import pictures
from images.loading import to_model_input
from tcavcore.cav_store import CavStore, CavStoreError, read_cav_store
from tcavcore.concept_maps import calibrated_concept_map, calibrated_presence, reference_presences

log = logging.getLogger(__name__)

#: Gallery images per class (the first in content order of the test split, as every stage reads it).
GALLERY_PER_CLASS = 8
#: Bins of the presence histograms.
HISTOGRAM_BINS = 24
#: Feature maps of at most this many layers (a large outside model has a hundred; ``--layers`` chooses).
MAX_FEATURE_LAYERS = 16


class ImageRefused(ValueError):
    """The request's image cannot be analysed; the message says why, for the page."""


@dataclass(frozen=True)
class GalleryImage:
    """One test image: its file, true class and what the model predicts for it."""

    path: Path
    true: str
    predicted: str
    probability: float
    thumbnail: str  # data: URI of the image as the model sees it


class ExplorerSession:
    """The run the explorer shows. Raises :class:`PipelineError` if the model graph is missing;
    missing CAVs only leave out the concept part (``cav_problem`` says why)."""

    def __init__(self, params: Params, model_dir: Path, cavs: Path, processed: Path, scores: Path | None = None,
                 layers: list[str] | None = None):
        """``layers``: whose feature maps to show (default: every layer with spatial axes, at most
        :data:`MAX_FEATURE_LAYERS`, the tcav bottlenecks among them)."""
        from wrappers import FrozenGraphWrapper, ModelLoadError

        self.params = params
        if not (Path(model_dir) / "model.pb").is_file():
            raise PipelineError(f"{Path(model_dir) / 'model.pb'}: not found: there is no exported model yet; "
                                "run `make run` first")
        try:
            self.model = FrozenGraphWrapper(model_dir, with_gradients=False)
        except ModelLoadError as error:
            raise PipelineError(f"{error}; run `make run` first") from None
        self.size = int(self.model.image_shape[0])
        self.lock = threading.Lock()  # one graph session, shared by the server's threads
        self.store: CavStore | None = None
        self.cav_problem = ""
        try:
            self.store = read_cav_store(cavs)
        except CavStoreError as error:
            self.cav_problem = f"No concepts to show: {error}."
        if self.store is not None:
            unknown = [b for b in self.store.bottlenecks if b not in self.model.available_bottlenecks]
            if unknown:
                self.store, self.cav_problem = None, (f"No concepts to show: the CAVs in {cavs} are for layers "
                                                      f"{unknown} the model does not have; run `make run` again.")
        probe = self.model.activations_at(np.zeros((1, self.size, self.size, 3), np.float32),
                                          self.model.available_bottlenecks)
        # every layer with height and width axes: the conv and pool layers of the built-in CNN
        spatial = [b for b in self.model.available_bottlenecks if probe[b].ndim == 4]
        self.spatial_layers, self.layers_note = choose_layers(spatial, list(params.tcav.bottlenecks), layers)
        self.findings = read_findings(scores) if scores is not None else {}
        self.gallery = self._gallery(Path(processed))

    # --- reading
    def read_upload(self, data: bytes) -> tuple[np.ndarray, str]:
        """``data`` (a file's bytes) as model input, and what was done to it; :class:`ImageRefused` if unusable."""
        curation = self.params.crawl.curation
        accepted = inspect_image(data, min_size=1, max_pixels=curation.max_pixels, crop=curation.crop,
                                 max_side=curation.max_side)
        if isinstance(accepted, Rejected):
            raise ImageRefused(f"This file cannot be used: {accepted.reason}.")
        width, height = accepted.original_size
        said = [f"{accepted.format} {width}x{height}", *accepted.conversions, f"resized to {self.size}x{self.size}"]
        return to_model_input(accepted.image, self.size), ", ".join(said)

    def _gallery(self, processed: Path) -> list[GalleryImage]:
        split = processed / "test"
        paths, truths = [], []
        for name in self.params.classes:
            folder = split / name
            found = content_order(list_images(folder))[:GALLERY_PER_CLASS] if folder.is_dir() else []
            paths += found
            truths += [name] * len(found)
        if not paths:
            log.warning("explore: no test images under %s: the gallery is empty", split)
            return []
        images, kept = [], []
        for path, truth in zip(paths, truths):
            try:
                images.append(self.read_upload(path.read_bytes())[0])
                kept.append((path, truth))
            except (ImageRefused, OSError) as error:  # one bad file costs its thumbnail, not the explorer
                log.warning("explore: gallery: skipping %s: %s", path, error)
        if not images:
            return []
        paths, truths = [p for p, _ in kept], [t for _, t in kept]
        probabilities = self._probabilities(np.stack(images))
        labels = self.model.labels
        return [GalleryImage(path, truth, labels[int(np.argmax(p))], float(np.max(p)), pictures.image_uri(image))
                for path, truth, p, image in zip(paths, truths, probabilities, images)]

    def _probabilities(self, images: np.ndarray) -> np.ndarray:
        with self.lock:
            return self.model.sess.run(self.model.ends["prediction"], {self.model.ends["input"]: images})

    # --- what the page asks for
    def status(self) -> dict:
        """The run's shape: labels, layers, concepts, and any problem to show."""
        store = self.store
        return {
            "labels": list(self.model.labels),
            "image_size": self.size,
            "layers": self.spatial_layers,
            "layers_note": self.layers_note,
            "concepts": store.concepts if store else [],
            "bottlenecks": store.bottlenecks if store else [],
            "pooling": store.pooling if store else None,
            "model": model_description(self.model.manifest),
            "problem": self.cav_problem,
        }

    def gallery_json(self) -> list[dict]:
        """The gallery: a thumbnail, the true class and the prediction of each test image."""
        return [{"id": index, "name": item.path.name, "true": item.true, "predicted": item.predicted,
                 "probability": round(item.probability, 4), "correct": item.true == item.predicted,
                 "src": item.thumbnail} for index, item in enumerate(self.gallery)]

    def analyse_gallery(self, index: int) -> dict:
        """:meth:`analyse` of gallery image ``index``."""
        if not 0 <= index < len(self.gallery):
            raise ImageRefused(f"There is no gallery image {index} (the gallery has {len(self.gallery)}).")
        item = self.gallery[index]
        image, _ = self.read_upload(item.path.read_bytes())
        return self.analyse(image, f"test image {item.path.name} (true class {item.true})")

    def analyse_bytes(self, data: bytes, name: str = "upload") -> dict:
        """:meth:`analyse` of an uploaded or drawn file."""
        image, said = self.read_upload(data)
        return self.analyse(image, f"{name}: {said}")

    def analyse(self, image: np.ndarray, source: str) -> dict:
        """Everything the page shows for ``image`` (model input ``(size, size, 3)`` in [0, 1])."""
        layers = list(dict.fromkeys([*self.spatial_layers, *(self.store.bottlenecks if self.store else [])]))
        with self.lock:
            acts = self.model.activations_at(image[None], layers)
            probabilities = self.model.sess.run(self.model.ends["prediction"], {self.model.ends["input"]: image[None]})[0]
        labels = self.model.labels
        order = np.argsort(-probabilities)
        result = {
            "source": source,
            "image": pictures.image_uri(image),
            "predicted": labels[int(order[0])],
            "probabilities": [{"label": labels[i], "p": round(float(probabilities[i]), 6)} for i in range(len(labels))],
            "layers": [{"name": name, "shape": list(acts[name].shape[1:]), "channels": int(acts[name].shape[-1]),
                        "shown": min(int(acts[name].shape[-1]), pictures.MAX_CHANNELS),
                        "grid": pictures.feature_grid_uri(acts[name][0])} for name in self.spatial_layers],
            "concepts": self._concepts(image, acts),
        }
        return result

    def _concepts(self, image: np.ndarray, acts: dict[str, np.ndarray]) -> list[dict]:
        store = self.store
        if store is None:
            return []
        pixels = np.round(image * 255).astype(np.uint8)
        out = []
        for concept in store.concepts:
            for bottleneck in store.bottlenecks:
                cavs = store.select(concept, bottleneck)
                if not cavs:
                    continue
                layer = acts[bottleneck]
                presence = float(calibrated_presence(layer, cavs, store.pooling)[0])
                concept_values, random_values = reference_presences(cavs)
                accuracy = float(np.mean([c.accuracy for c in cavs]))
                entry = {
                    "concept": concept, "bottleneck": bottleneck, "presence": _finite(presence),
                    "cav_accuracy": round(accuracy, 4),
                    "learnable": accuracy >= self.params.tcav.min_cav_accuracy,
                    "n_cavs": len(cavs),
                    "distribution": histogram(concept_values, random_values, presence),
                    "findings": self.findings.get((concept, bottleneck), []),
                    "map": None,
                }
                if layer.ndim == 4:
                    calibrated = calibrated_concept_map(layer[0], cavs, store.pooling)
                    entry["map"] = pictures.overlay_uri(pixels, calibrated)
                    entry["map_range"] = [_finite(float(np.nanmin(calibrated))), _finite(float(np.nanmax(calibrated)))]
                out.append(entry)
        return out


def choose_layers(spatial: list[str], bottlenecks: list[str], wanted: list[str] | None,
                  limit: int = MAX_FEATURE_LAYERS) -> tuple[list[str], str]:
    """The layers whose feature maps are shown, in network order, and a note when some are left out.

    ``wanted`` (the user's choice) must all be ``spatial`` layers; by default every spatial layer
    up to ``limit``, beyond it the tcav ``bottlenecks`` and layers evenly spread over the rest.
    """
    if wanted:
        unknown = [name for name in wanted if name not in spatial]
        if unknown:
            raise PipelineError(f"--layers: {', '.join(unknown)} not a layer with spatial axes of the model; it has: "
                                f"{', '.join(spatial)}")
        return [name for name in spatial if name in wanted], ""
    if len(spatial) <= limit:
        return spatial, ""
    chosen = {name for name in bottlenecks if name in spatial}
    others = [name for name in spatial if name not in chosen]
    room = max(0, limit - len(chosen))
    chosen |= {others[int(i)] for i in np.linspace(0, len(others) - 1, room)} if room else set()
    return ([name for name in spatial if name in chosen],
            f"Feature maps of {len(chosen)} of the model's {len(spatial)} layers with spatial axes (the tcav "
            "bottlenecks and layers spread over the rest); `python -m pipeline.explore --layers a,b,...` chooses.")


def model_description(manifest: dict) -> str:
    """What the model is, in words: the built-in CNN, or the outside model's kind and path."""
    source = manifest.get("source")
    if isinstance(source, dict) and source.get("path"):
        return f"{source.get('kind', 'outside')} model {source['path']}"
    return "the built-in CNN (models/trained)"


def _finite(value: float) -> float | None:
    """JSON has no NaN: an undefined value is null."""
    return round(value, 4) if np.isfinite(value) else None


def histogram(concept: np.ndarray, random: np.ndarray, value: float, bins: int = HISTOGRAM_BINS) -> dict:
    """Counts of the concept's and the random images' presences over shared bins that also hold ``value``.

    The range is that of the middle 98% of both sets (an outlier would squash the rest), widened to
    hold ``value``.
    """
    both = np.concatenate([concept, random])
    both = both[np.isfinite(both)]
    if not len(both):
        return {"edges": [], "concept": [], "random": [], "concept_mean": None, "random_mean": None}
    low, high = np.percentile(both, [1, 99])
    if np.isfinite(value):
        low, high = min(low, value), max(high, value)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)

    def counts(values):
        return np.histogram(np.clip(values[np.isfinite(values)], low, high), bins=edges)[0].tolist()

    return {"edges": [round(float(e), 4) for e in edges], "concept": counts(concept), "random": counts(random),
            "concept_mean": _finite(float(np.nanmean(concept))), "random_mean": _finite(float(np.nanmean(random)))}


#: How a finding's check is marked after it: confirmed by the tests on images, or contradicted by one.
CHECK_MARKS = {"(confirmed)": " \u2713", "contradicted": " \u2717"}


def read_findings(scores: Path) -> dict[tuple[str, str], list[str]]:
    """(concept, bottleneck) -> the report's significant findings there, from scores.csv: ``+fire`` raises
    fire, ``\u2212water`` lowers water, followed by ``\u2713`` when the finding is confirmed and ``\u2717``
    when it is contradicted (nothing: not confirmed).

    Empty when the run has no scores yet: the explorer then shows every concept unmarked.
    """
    found: dict[tuple[str, str], list[str]] = {}
    try:
        with Path(scores).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("significant") == "True":
                    way = "+" if float(row["score_mean"]) > 0.5 else "\u2212"
                    verdict = row.get("verdict", "")
                    mark = next((m for end, m in CHECK_MARKS.items() if verdict.endswith(end)), "")
                    found.setdefault((row["concept"], row["bottleneck"]), []).append(f"{way}{row['target']}{mark}")
    except (OSError, KeyError, ValueError):
        return {}
    return found
