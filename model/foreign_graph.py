"""Bring a frozen TensorFlow graph from elsewhere (a ``.pb`` GraphDef, or a SavedModel's
signature frozen here) into the project's named-endpoint form, by editing the GraphDef.

Such a graph has its own tensor names. The user may name the input and logits tensors
(``model.input_tensor``, ``model.logits_tensor``); otherwise the only float placeholder is the
input and the graph's only output is the logits, or the input of that output when it is a
``Softmax`` (the logits are recovered). Bottlenecks are ops on the path from the input to the
logits with one float output per example; their user-facing name is the op name with ``/``
replaced by ``.`` (names become file names of charts).

The edit: every node is renamed under ``model/``; the old placeholder is removed and its
consumers read the input recipe's output instead; each chosen op gets an identity
``bottleneck/<name>`` that all of its consumers are rewired to read (in line, so gradients
taken there reach the logits); ``endpoint/logits`` and ``endpoint/probabilities`` are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import preprocessing
from model.keras_graph import LayerInfo
from common.errors import PipelineError

PREFIX = "model/"
INPUT_NAME = "input"
RECIPE_OUTPUT = "recipe/output"
LOGITS_NAME = "endpoint/logits"
PROBABILITIES_NAME = "endpoint/probabilities"
# Ops that pass their input through unchanged: followed when looking for a softmax at the end.
PASS_THROUGH = {"Identity", "IdentityN", "StopGradient", "Snapshot"}
NOT_OUTPUTS = {"Const", "NoOp", "Placeholder", "PlaceholderWithDefault", "Assert", "VarHandleOp", "Print", "PrintV2"}


@dataclass
class ForeignGraph:
    """A frozen graph and the tensors this project needs from it."""

    graph_def: object
    input_tensor: str    # "name:0"
    output_tensor: str   # what the model outputs (probabilities or logits)
    logits_tensor: str   # the pre-softmax tensor
    ending: str          # "softmax" (recovered) or "logits"
    where: str           # the file, for messages


def bottleneck_name(op_name: str) -> str:
    """The name a user gives an op of a foreign graph (``/`` -> ``.``)."""
    return op_name.replace("/", ".")


def _op(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def _tensor(name: str) -> str:
    return name if ":" in name else f"{name}:0"


def read_graph_def(path: str | Path):
    """The GraphDef in a binary ``.pb`` file, or a clear error."""
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"model.path: {path}: not found")
    if path.is_dir():
        raise PipelineError(f"model.path: {path}: is a folder; model.source frozen reads a frozen GraphDef .pb file "
                            "(a SavedModel folder is model.source savedmodel)")
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise PipelineError(f"model.path: {path}: not a frozen TensorFlow GraphDef .pb ({type(error).__name__})") from None
    if not graph_def.node:
        raise PipelineError(f"model.path: {path}: not a frozen TensorFlow GraphDef .pb (no graph nodes in it)")
    if any(node.op in ("VariableV2", "VarHandleOp", "Variable") for node in graph_def.node):
        raise PipelineError(f"model.path: {path}: the graph still has variables (not frozen); freeze it "
                            "(convert_variables_to_constants_v2) or give its SavedModel with model.source savedmodel")
    return graph_def


def load_savedmodel(path: str | Path, signature: str):
    """A SavedModel's serving signature frozen to a GraphDef, with its input and output tensor names."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    path = Path(path)
    if not path.exists():
        raise PipelineError(f"model.path: {path}: not found")
    if not (path.is_dir() and (path / "saved_model.pb").is_file()):
        raise PipelineError(f"model.path: {path}: not a TensorFlow SavedModel folder (no saved_model.pb in it); "
                            "a .keras/.h5 file is model.source keras, a frozen .pb is model.source frozen")
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as error:  # TensorFlow raises many kinds for a damaged SavedModel
        raise PipelineError(f"model.path: {path}: cannot load the SavedModel ({type(error).__name__})") from None
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if signature not in signatures:
        raise PipelineError(f"model.signature: {signature!r} is not a signature of {path}; it has: "
                            f"{', '.join(signatures) or 'none (save it with a serving signature)'}")
    function = signatures[signature]
    inputs = [t for t in function.inputs if t.dtype != tf.resource]
    if len(inputs) != 1:
        raise PipelineError(f"model.path: {path}: signature {signature!r} takes {len(inputs)} inputs; expected one image input")
    frozen = convert_variables_to_constants_v2(function)
    outputs = frozen.outputs
    if len(outputs) != 1:
        raise PipelineError(f"model.path: {path}: signature {signature!r} has {len(outputs)} outputs; "
                            "expected one tensor of class scores")
    return frozen.graph.as_graph_def(), frozen.inputs[0].name, outputs[0].name


def _import(graph_def):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    return graph


def find_endpoints(graph_def, where: str, input_tensor: str | None, logits_tensor: str | None,
                   output_tensor: str | None = None) -> ForeignGraph:
    """Locate the input, output and logits tensors (named by the user, or found)."""
    graph = _import(graph_def)
    ops = {op.name: op for op in graph.get_operations()}
    if input_tensor:
        if _op(input_tensor) not in ops:
            raise PipelineError(f"model.input_tensor: {input_tensor!r} is not in {where}; placeholders: "
                                f"{', '.join(n for n, o in ops.items() if o.type == 'Placeholder') or 'none'}")
        input_tensor = _tensor(input_tensor)
    else:
        placeholders = [o for o in ops.values() if o.type == "Placeholder" and o.outputs[0].dtype.is_floating]
        if len(placeholders) != 1:
            raise PipelineError(f"{where}: {len(placeholders)} float placeholders "
                                f"({', '.join(o.name for o in placeholders) or 'none'}); name the image input with "
                                "model.input_tensor")
        input_tensor = placeholders[0].outputs[0].name
    if logits_tensor:
        if _op(logits_tensor) not in ops:
            raise PipelineError(f"model.logits_tensor: {logits_tensor!r} is not in {where}")
        output_tensor = _tensor(logits_tensor)
    elif output_tensor is None:
        consumed = {inp.op.name for op in ops.values() for inp in op.inputs} | {c.name for op in ops.values() for c in op.control_inputs}
        outputs = [o for o in ops.values() if o.name not in consumed and o.type not in NOT_OUTPUTS and o.outputs
                   and o.outputs[0].dtype.is_floating]
        if len(outputs) != 1:
            raise PipelineError(f"{where}: {len(outputs)} candidate outputs "
                                f"({', '.join(o.name for o in outputs[:10]) or 'none'}); name the class scores with "
                                "model.logits_tensor")
        output_tensor = outputs[0].outputs[0].name
    # Follow pass-through ops back from the output: a softmax there means its input is the logits.
    op = graph.get_tensor_by_name(output_tensor).op
    while op.type in PASS_THROUGH and op.inputs:
        op = op.inputs[0].op
    if op.type == "Softmax":
        logits, ending = op.inputs[0].name, "softmax"
    elif op.type == "Sigmoid":
        raise PipelineError(f"{where}: the output {output_tensor!r} is a sigmoid (op {op.name!r}): independent per-class "
                            "probabilities, not a softmax over the classes; TCAV here differentiates the softmax "
                            "cross-entropy of the logits (name a logits tensor with model.logits_tensor)")
    else:
        logits, ending = output_tensor, "logits"
    return ForeignGraph(graph_def, input_tensor, output_tensor, logits, ending, where)


def input_shape(foreign: ForeignGraph) -> tuple:
    """The input placeholder's static shape (``None`` where unknown)."""
    graph = _import(foreign.graph_def)
    shape = graph.get_tensor_by_name(foreign.input_tensor).shape
    return tuple(shape.as_list()) if shape.rank is not None else ()


def list_layers(foreign: ForeignGraph) -> list[LayerInfo]:
    """Ops between the input and the logits in graph order, with output shapes and usability."""
    graph = _import(foreign.graph_def)
    ops = graph.get_operations()
    input_op = graph.get_tensor_by_name(foreign.input_tensor).op
    logits_op = graph.get_tensor_by_name(foreign.logits_tensor).op
    # Ops the input reaches, and ops the logits depend on: the forward path is both.
    reached = {input_op.name}
    for op in ops:  # a GraphDef's import order is topological
        if any(t.op.name in reached for t in op.inputs):
            reached.add(op.name)
    needed, stack = set(), [logits_op]
    while stack:
        op = stack.pop()
        if op.name in needed:
            continue
        needed.add(op.name)
        stack.extend(t.op for t in op.inputs)
    infos = []
    for op in ops:
        if op.name not in reached or op.name not in needed or op is input_op or op.type in NOT_OUTPUTS:
            continue
        problem = None
        shape: tuple = ()
        if len(op.outputs) != 1:
            problem = f"has {len(op.outputs)} outputs, not one"
        else:
            tensor = op.outputs[0]
            shape = tuple(tensor.shape.as_list()) if tensor.shape.rank is not None else ()
            if op is logits_op:
                problem = "the logits (the class scores)"
            elif len(shape) < 2 or shape[0] is not None:
                problem = f"output shape {shape or 'unknown'} is not one tensor per example"
            elif not tensor.dtype.is_floating:
                problem = f"output is {tensor.dtype.name}, not floating point"
        infos.append(LayerInfo(name=bottleneck_name(op.name), path=(op.name,), kind=op.type, shape=shape, problem=problem))
    return infos


def _recipe_graph_def(image_size: int, value_range, preprocess_name: str | None):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, image_size, image_size, 3], name=INPUT_NAME)
        tf.identity(preprocessing.apply(images, value_range, preprocess_name), name=RECIPE_OUTPUT)
    return graph.as_graph_def()


def rewrite(foreign: ForeignGraph, bottlenecks: dict[str, str], image_size: int, value_range,
            preprocess_name: str | None):
    """The project's named-endpoint GraphDef. ``bottlenecks``: op name -> bottleneck name."""
    import tensorflow as tf

    graph = _import(foreign.graph_def)
    dtype = {op: graph.get_operation_by_name(op).outputs[0].dtype.as_datatype_enum for op in bottlenecks}
    input_op = _op(foreign.input_tensor)
    # Tensor references (as written in NodeDef.input) that must be redirected.
    redirect = {foreign.input_tensor: RECIPE_OUTPUT}
    for op, name in bottlenecks.items():
        redirect[f"{op}:0"] = f"bottleneck/{name}"

    def new_ref(ref: str) -> str:
        if ref.startswith("^"):
            return "^" + PREFIX + ref[1:]
        full = _tensor(ref)
        if full in redirect:
            return redirect[full]
        return PREFIX + ref

    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(foreign.graph_def.versions)
    out.library.CopyFrom(foreign.graph_def.library)
    out.node.extend(_recipe_graph_def(image_size, value_range, preprocess_name).node)
    for node in foreign.graph_def.node:
        if node.name == input_op:
            continue
        copy = out.node.add()
        copy.CopyFrom(node)
        copy.name = PREFIX + node.name
        copy.device = ""
        if "_class" in copy.attr:  # colocation hints name the old ops
            del copy.attr["_class"]
        del copy.input[:]
        copy.input.extend(new_ref(ref) for ref in node.input)
    for op, name in bottlenecks.items():
        identity = out.node.add()
        identity.name, identity.op = f"bottleneck/{name}", "Identity"
        identity.input.append(PREFIX + op)
        identity.attr["T"].type = dtype[op]
    logits_ref = new_ref(foreign.logits_tensor)
    if logits_ref.endswith(":0"):
        logits_ref = logits_ref[:-2]
    logits = out.node.add()
    logits.name, logits.op = LOGITS_NAME, "Identity"
    logits.input.append(logits_ref)
    logits.attr["T"].type = tf.float32.as_datatype_enum
    softmax = out.node.add()
    softmax.name, softmax.op = PROBABILITIES_NAME, "Softmax"
    softmax.input.append(LOGITS_NAME)
    softmax.attr["T"].type = tf.float32.as_datatype_enum
    endpoints = {
        "input": f"{INPUT_NAME}:0",
        "logits": f"{LOGITS_NAME}:0",
        "probabilities": f"{PROBABILITIES_NAME}:0",
        "bottlenecks": {name: f"bottleneck/{name}:0" for name in bottlenecks.values()},
    }
    return out, endpoints


def original_outputs(foreign: ForeignGraph, images: np.ndarray, value_range, preprocess_name: str | None,
                     batch_size: int = 64) -> np.ndarray:
    """The foreign graph's own output for pipeline images (after the input recipe)."""
    import tensorflow as tf

    # The recipe runs eagerly, outside the session (a session makes its graph the default one).
    batches = [np.asarray(preprocessing.apply(tf.constant(images[start:start + batch_size]), value_range,
                                              preprocess_name)) for start in range(0, len(images), batch_size)]
    graph = _import(foreign.graph_def)
    with tf.compat.v1.Session(graph=graph) as session:
        parts = [session.run(foreign.output_tensor, {foreign.input_tensor: batch}) for batch in batches]
    return np.concatenate(parts)
