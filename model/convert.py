"""Convert a user's model (``model.source``: keras, savedmodel, frozen) once into the frozen
graph with named endpoints every later stage reads, and check it against the original.

The check: on the scoring images, the converted graph's outputs (its probabilities when the
model ends in a softmax, else its logits) must match what the original model outputs to within
:data:`MAX_DIFF`, or nothing is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from model import foreign_graph, keras_freeze
from model.keras_graph import LINEAR, SOFTMAX, LayerInfo
from common.errors import PipelineError

log = logging.getLogger(__name__)

MAX_DIFF = 1e-4
#: The sources this module converts (``train`` is the built-in model, exported by pipeline/export.py).
OUTSIDE_SOURCES = ("keras", "savedmodel", "frozen")


@dataclass
class Converted:
    """A converted model: the GraphDef, its endpoints and what was found on the way."""

    graph_def: object
    endpoints: dict
    bottlenecks: list[str]          # in network order
    ending: str                     # softmax (logits recovered) or logits
    n_outputs: int
    layers: list[LayerInfo] = field(default_factory=list)
    original: object = None         # callable: images -> the original model's outputs


def read_labels(labels, classes: Sequence[str]) -> list[str]:
    """The model's class names in output order: ``model.labels`` as a list, a file of one name a
    line, or (null) the ``classes`` themselves."""
    if labels is None:
        return list(classes)
    if isinstance(labels, list):
        return list(labels)
    path = Path(labels)
    if not path.is_file():
        raise PipelineError(f"model.labels: {path}: labels file not found (one class name a line, in output order)")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(names)) != len(names) or not names:
        raise PipelineError(f"model.labels: {path}: expected unique class names, one a line (got {len(names)} lines)")
    return names


def _looks_like_probabilities(outputs: np.ndarray) -> bool:
    return bool(len(outputs) and outputs.min() >= 0 and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4))


def load_outside_model(params):
    """The user's model, loaded: ("keras", keras.Model) or ("graph", ForeignGraph)."""
    m = params.model
    if m.source == "keras":
        return "keras", keras_freeze.load_keras(m.path)
    if m.source == "savedmodel":
        graph_def, input_name, output_name = foreign_graph.load_savedmodel(m.path, m.signature)
        return "graph", foreign_graph.find_endpoints(graph_def, f"model.path: {m.path}", input_name, m.logits_tensor,
                                                     output_name)
    if m.source == "frozen":
        graph_def = foreign_graph.read_graph_def(m.path)
        return "graph", foreign_graph.find_endpoints(graph_def, f"model.path: {m.path}", m.input_tensor, m.logits_tensor)
    raise PipelineError(f"model.source: {m.source!r}: supported outside sources are {', '.join(OUTSIDE_SOURCES)}")


def model_layers(params) -> list[LayerInfo]:
    """Every layer (op) of the user's model in network order, with shapes and usability
    (converting it, so that a layer the logits bypass is known too)."""
    return convert(params).layers


BYPASSED = ("not a cut of the network: the logits also depend on the input around it (a skip connection "
            "or concatenation passes it by), so its activations alone do not give the class score")


def bypassed_layers(graph_def, names: Sequence[str]) -> set[str]:
    """Bottlenecks the logits can be reached around: a path from ``input`` to ``endpoint/logits``
    avoids their identity. TCAV feeds activations at the bottleneck and differentiates the logits
    there, which needs every path from the image to the logits to pass through it."""
    consumers: dict[str, list[str]] = {}
    for node in graph_def.node:
        for ref in node.input:
            consumers.setdefault(ref.lstrip("^").split(":")[0], []).append(node.name)
    start, goal = keras_freeze.INPUT_NAME, keras_freeze.LOGITS_NAME
    found = set()
    for name in names:
        blocked, seen, stack = f"bottleneck/{name}", {start}, [start]
        while stack:
            node = stack.pop()
            if node == goal:
                found.add(name)
                break
            for nxt in consumers.get(node, ()):
                if nxt != blocked and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return found


def convert(params, bottlenecks: Sequence[str] | None = None) -> Converted:
    """Convert the model ``params.model`` names, with ``bottlenecks`` in line (``None``: every
    layer that can be a bottleneck, so that choosing other layers never reconverts)."""
    m, size = params.model, params.preprocess.image_size
    bottlenecks_given = bottlenecks is not None
    recipe = (list(m.input.value_range), m.input.preprocessing)
    kind, loaded = load_outside_model(params)
    where = f"model.path: {m.path}"
    if kind == "keras":
        keras_freeze.image_shape(loaded, size, where)
        graph_def, endpoints, ending, order, layers = keras_freeze.freeze_keras(
            loaded, None if bottlenecks is None else list(bottlenecks), size, *recipe)
        if ending not in (SOFTMAX, LINEAR):
            log.warning("convert: the model ends in %s; its outputs are taken as logits", ending)
        ending = "softmax" if ending == SOFTMAX else "logits"
        n_outputs = int(loaded.outputs[0].shape[-1])
        original = lambda images: keras_freeze.original_outputs(loaded, images, *recipe)  # noqa: E731
    else:
        keras_freeze.check_image_shape(foreign_graph.input_shape(loaded), size, where)
        layers = foreign_graph.list_layers(loaded)
        if bottlenecks is None:
            bottlenecks = [info.name for info in layers if info.problem is None]
        chosen = keras_freeze.resolve_bottlenecks(layers, list(bottlenecks), "tcav.bottlenecks")
        by_op = {path[0]: name for path, name in chosen.items()}
        graph_def, endpoints = foreign_graph.rewrite(loaded, by_op, size, *recipe)
        order = [info.name for info in layers if info.name in set(bottlenecks)]
        ending = loaded.ending
        shape = foreign_graph._import(loaded.graph_def).get_tensor_by_name(loaded.logits_tensor).shape
        if shape.rank != 2 or shape[-1] is None:
            raise PipelineError(f"{where}: the logits tensor {loaded.logits_tensor!r} has shape {shape}; "
                                "expected (batch, number of classes)")
        n_outputs = int(shape[-1])
        original = lambda images: foreign_graph.original_outputs(loaded, images, *recipe)  # noqa: E731
    around = bypassed_layers(graph_def, order)
    if around and bottlenecks_given:
        raise PipelineError(f"tcav.bottlenecks: layer {sorted(around)[0]!r} cannot be a bottleneck: {BYPASSED}")
    layers = [LayerInfo(i.name, i.path, i.kind, i.shape, BYPASSED) if i.name in around else i for i in layers]
    order = [name for name in order if name not in around]
    endpoints["bottlenecks"] = {name: t for name, t in endpoints["bottlenecks"].items() if name not in around}
    return Converted(graph_def, endpoints, order, ending, n_outputs, layers, original)


def check(converted: Converted, images: np.ndarray, where: str) -> dict:
    """Compare the converted graph with the original on ``images``; raise if they differ."""
    from model.freeze import run_frozen

    expected = converted.original(images)
    if converted.ending == "logits" and _looks_like_probabilities(expected):
        raise PipelineError(
            f"{where}: the model's outputs are probabilities (each row sums to 1 on all {len(images)} scoring "
            "images) but it does not end in a softmax layer the logits could be recovered from; give a model "
            "whose last layer is a Dense/Softmax/Activation softmax, or name the logits with model.logits_tensor")
    name = converted.endpoints["probabilities" if converted.ending == "softmax" else "logits"]
    got = np.concatenate([run_frozen(converted.graph_def, name, converted.endpoints["input"], images[i:i + 64])
                          for i in range(0, len(images), 64)])
    diff = float(np.max(np.abs(expected - got))) if len(images) else 0.0
    if not diff < MAX_DIFF:
        raise PipelineError(f"{where}: the converted graph's outputs differ from the original model's by {diff:g} "
                            f"on the scoring images (limit {MAX_DIFF:g}); the conversion is refused")
    return {"n_images": int(len(images)), "compared": "probabilities" if converted.ending == "softmax" else "logits",
            "max_abs_diff": diff}


def export_outside(params, processed: str | Path, out: str | Path) -> dict:
    """Convert the user's model (``model.source`` keras, savedmodel, frozen) into ``out/``
    (model.pb, labels.txt, manifest.json); return the manifest. Nothing is written if a check fails."""
    from common.files import atomic_directory, atomic_write_json
    from images.splits import load_split

    m = params.model
    labels = read_labels(m.labels, params.classes)
    missing = [c for c in params.classes if c not in labels]
    if missing:
        raise PipelineError(f"classes {missing} are not in the model's labels ({', '.join(labels)}); "
                            "set model.labels to the model's class names in output order")
    split = params.tcav.target_split
    images, _ = load_split(processed, split, params.classes, params.preprocess.image_size)
    # Every layer that can be a bottleneck gets its in-line identity, so that choosing other
    # tcav.bottlenecks never reconverts the model.
    converted = convert(params)
    if converted.n_outputs != len(labels):
        source = f"model.labels ({m.labels})" if isinstance(m.labels, str) else "model.labels" if m.labels else "classes"
        raise PipelineError(f"{source}: the model at {m.path} outputs {converted.n_outputs} classes but "
                            f"{len(labels)} labels are given ({', '.join(labels)}); list the model's classes in output order")
    result = check(converted, images, f"model.path: {m.path}")
    size = params.preprocess.image_size
    manifest = {
        "endpoints": converted.endpoints,
        "labels": labels,
        "image_shape": [size, size, 3],
        "value_range": [0.0, 1.0],
        "bottlenecks": converted.bottlenecks,
        "check": {"n_images": result["n_images"], "split": split, "compared": result["compared"],
                  "max_abs_diff": result["max_abs_diff"]},
        "source": {"kind": m.source, "path": m.path, "ending": converted.ending,
                   "input": {"value_range": list(m.input.value_range), "preprocessing": m.input.preprocessing}},
    }
    with atomic_directory(out) as tmp:
        (tmp / "model.pb").write_bytes(converted.graph_def.SerializeToString(deterministic=True))
        (tmp / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
        atomic_write_json(tmp / "manifest.json", manifest)
    log.info("export: %s model %s converted to %s (%d bottleneck layers; %s); max |%s diff| vs the original on "
             "%d %s images: %.2g", m.source, m.path, Path(out) / "model.pb", len(converted.bottlenecks),
             "logits recovered from its softmax" if converted.ending == "softmax" else "its outputs are the logits",
             result["compared"], result["n_images"], split, result["max_abs_diff"])
    return manifest
