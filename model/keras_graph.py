"""Run a Keras model layer by layer, so that its layers can be named graph endpoints.

Keras 3 op names are unstable (``functional_1/conv1_1/Relu``), so the converted graph cannot
refer to a layer by its op name. Instead the model is re-run through its own functional graph
(``Functional._run_through_graph``, the code ``Model.call`` uses) with a hook on every layer
call: a chosen layer's output is wrapped in ``tf.identity(name="bottleneck/<layer>")`` and the
*identity* is what the next layers consume (in line), so gradients taken there reach the logits.

What the walk handles: functional models with branches (adds, concatenations) and layers whose
output feeds several others (every consumer reads the same identity), nested models (a
keras.applications model inside a ``Sequential`` is walked into, its layers are bottlenecks too),
batch normalisation in inference mode and dropout off (every layer is called ``training=False``).
A layer called more than once (a shared layer) has no single output and is not a bottleneck.

Logits: when the network ends in a softmax (``Dense(..., activation="softmax")``, a ``Softmax``
layer or ``Activation("softmax")``), the walk returns the tensor *before* the softmax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from common.errors import PipelineError

#: Layer classes whose output is the model's input normalisation, not a feature (never bottlenecks).
SOFTMAX, SIGMOID, LINEAR = "softmax", "sigmoid", "linear"


@dataclass
class LayerInfo:
    """One layer call met in network order: its bottleneck name, output shape and usability."""

    name: str
    path: tuple[str, ...]
    kind: str
    shape: tuple
    problem: str | None = None  # why it cannot be a bottleneck (None: it can)


@dataclass
class WalkResult:
    """What a walk produced: the model's output, its logits, and the layers met."""

    output: Any
    logits: Any
    ending: str  # what was found at the end: softmax (recovered), linear, or a description
    layers: list[LayerInfo] = field(default_factory=list)


def _is_graph_model(op) -> bool:
    """A model whose layers can be walked into (functional, or a built Sequential)."""
    import keras

    if isinstance(op, keras.Sequential):
        return getattr(op, "_functional", None) is not None
    return isinstance(op, keras.Model) and hasattr(op, "_run_through_graph") and hasattr(op, "_nodes_by_depth")


def _graph_of(model):
    import keras

    return model._functional if isinstance(model, keras.Sequential) else model


def _activation_name(fn) -> str | None:
    return getattr(fn, "__name__", None) if fn is not None else None


def final_layer_path(model) -> tuple[str, ...]:
    """Names from the outer model down to the leaf layer that produces the model's output."""
    path: list[str] = []
    op = model
    while _is_graph_model(op):
        graph = _graph_of(op)
        if len(graph.outputs) != 1:
            raise PipelineError(f"model {op.name!r} has {len(graph.outputs)} outputs; expected one tensor of class scores")
        op = graph.outputs[0]._keras_history.operation
        path.append(op.name)
    return tuple(path)


def classify_ending(layer) -> str:
    """``softmax``, ``sigmoid`` or ``linear`` for the last layer, or a description of what it is."""
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return SOFTMAX
    activation = _activation_name(getattr(layer, "activation", None))
    if activation in (SOFTMAX, SIGMOID, LINEAR):
        return activation
    if activation is not None:
        return f"a {activation} activation in layer {layer.name!r} ({type(layer).__name__})"
    return f"layer {layer.name!r} ({type(layer).__name__})"


def _pre_softmax(layer, args, kwargs):
    """The last layer's output before its softmax."""
    import keras

    if isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
        axis = getattr(layer, "axis", -1)
        if axis not in (-1, [-1], (-1,)):
            raise PipelineError(f"layer {layer.name!r}: a softmax over axis {axis} is not a softmax over the classes")
        return args[0]
    saved = layer.activation
    layer.activation = keras.activations.linear  # the same layer, weights and all, without its softmax
    try:
        return layer(*args, **kwargs)
    finally:
        layer.activation = saved


def walk(model, inputs, bottlenecks: dict[tuple[str, ...], str] | None = None) -> WalkResult:
    """Call ``model`` on the tensor ``inputs`` layer by layer in inference mode.

    ``bottlenecks``: layer path -> name; each of these layers' output is replaced, in line, by
    ``tf.identity(output, name="bottleneck/<name>")``. Returns the output, the logits (the
    pre-softmax tensor when the model ends in a softmax, else the output) and every layer call
    in network order, named (see :func:`layer_names`).
    """
    import tensorflow as tf

    wanted = dict(bottlenecks or {})
    final = final_layer_path(model)
    calls: list[tuple[tuple[str, ...], Any, Any]] = []  # (path, layer, output) in call order
    found: dict[str, Any] = {"logits": None, "ending": None}

    def run(graph_model, graph_inputs, prefix: tuple[str, ...]):
        def operation_fn(op) -> Callable:
            def call(*args, **kwargs):
                path = prefix + (op.name,)
                if _is_graph_model(op):
                    inner = args[0] if len(args) == 1 else list(args)
                    out = run(_graph_of(op), inner, path)
                else:
                    kwargs = dict(kwargs)
                    if "training" in getattr(op, "_call_context_args", {"training"}):
                        kwargs["training"] = False
                    out = op(*args, **kwargs)
                    if path == final:
                        ending = classify_ending(op)
                        found["ending"] = ending
                        found["logits"] = _pre_softmax(op, args, kwargs) if ending == SOFTMAX else out
                if path in wanted:
                    out = tf.identity(out, name=f"bottleneck/{wanted[path]}")
                    if path == final:
                        found["logits"] = out
                calls.append((path, op, out))
                return out

            return call

        result = graph_model._run_through_graph(graph_inputs, operation_fn=operation_fn)
        return result[0] if isinstance(result, (list, tuple)) and len(result) == 1 else result

    output = run(_graph_of(model), inputs, ())
    return WalkResult(output=output, logits=found["logits"], ending=found["ending"] or "nothing",
                      layers=_describe(calls, final))


def _describe(calls: list[tuple[tuple[str, ...], Any, Any]], final: tuple[str, ...]) -> list[LayerInfo]:
    """Name every layer call and say whether it can be a bottleneck."""
    names = layer_names([path for path, _, _ in calls])
    counts: dict[int, int] = {}
    for _, op, _ in calls:
        counts[id(op)] = counts.get(id(op), 0) + 1
    infos = []
    seen: set[tuple[str, ...]] = set()
    for path, op, out in calls:
        if path in seen:
            continue
        seen.add(path)
        problem = None
        shape: tuple = ()
        if isinstance(out, (list, tuple, dict)):
            problem = f"returns {len(out)} tensors, not one"
        else:
            shape = tuple(out.shape)
            if counts[id(op)] > 1:
                problem = f"called {counts[id(op)]} times in the model (a shared layer): no single output"
            elif len(shape) < 2 or shape[0] is not None:
                problem = f"output shape {_shape_text(shape)} is not one tensor per example"
            elif not out.dtype.is_floating:
                problem = f"output is {out.dtype.name}, not floating point"
            elif final[: len(path)] == path:
                problem = "the model's output (the class scores)"
        infos.append(LayerInfo(name=names[path], path=path, kind=type(op).__name__, shape=shape, problem=problem))
    return infos


def layer_names(paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """The name a user gives each layer: its own name, or ``outer.inner`` when a nested model's
    layer shares its name with another layer."""
    leaf_count: dict[str, int] = {}
    for path in set(paths):
        leaf_count[path[-1]] = leaf_count.get(path[-1], 0) + 1
    return {path: path[-1] if leaf_count[path[-1]] == 1 else ".".join(path) for path in paths}


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("batch" if d is None and i == 0 else ("?" if d is None else str(d))
                           for i, d in enumerate(shape)) + ")"


def shape_text(shape: tuple) -> str:
    """An output shape for people: ``(batch, 8, 8, 32)``."""
    return _shape_text(shape)
