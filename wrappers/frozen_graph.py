"""A ``tcav.model.ModelWrapper`` for the frozen ``.pb`` written by the export stage.

It works unchanged with the reference ``tcav.tcav.TCAV`` and
``tcav.activation_generator.ImageActivationGenerator``, and adds batched methods
(:meth:`FrozenGraphWrapper.activations`, :meth:`FrozenGraphWrapper.gradients`) that this
project's engine uses to compute each gradient once instead of once per CAV.
"""

from __future__ import annotations

import json
from pathlib import Path

import common  # noqa: F401  (sets the protobuf/TensorFlow environment before they are imported)
import numpy as np
import tensorflow as tf
from tcav.model import ModelWrapper

GRADIENT_TARGETS = ("loss", "logit")


class ModelLoadError(ValueError):
    """The model folder is missing a file, or a requested endpoint is not in the graph."""


class UnknownBottleneckError(ModelLoadError):
    """A requested bottleneck is not one of the model's; the message lists the available ones."""


class FrozenGraphWrapper(ModelWrapper):
    """Load ``model.pb`` + ``manifest.json`` + ``labels.txt`` from ``model_dir``.

    ``loss`` is the softmax cross-entropy of the *logits* (not of the probabilities: that
    would apply softmax twice) summed over the batch, so the gradient of one example does
    not depend on the batch it is computed in. tcav feeds one example at a time, where the
    sum equals tcav's own mean.
    """

    def __init__(self, model_dir: str | os.PathLike, bottlenecks: list[str] | None = None, with_gradients: bool = True):
        """``bottlenecks``: the layer names to expose (default: all the manifest lists).
        ``with_gradients=False``: forward passes only (no gradient ops are built: the explorer
        reads every layer of a possibly large model and needs none)."""
        super().__init__()  # sets tcav's attributes to their empty defaults
        model_dir = Path(model_dir)
        for name in ("model.pb", "manifest.json", "labels.txt"):
            if not (model_dir / name).is_file():
                raise ModelLoadError(f"{model_dir / name}: not found; run the export stage first")
        self.manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        self.labels = (model_dir / "labels.txt").read_text(encoding="utf-8").splitlines()
        self.image_shape = list(self.manifest["image_shape"])
        self.model_name = f"frozen:{model_dir}"
        available = self.manifest["endpoints"]["bottlenecks"]
        # manifest["bottlenecks"] keeps the network's order (input side first)
        self.available_bottlenecks = [b for b in self.manifest.get("bottlenecks", available) if b in available]
        wanted = list(self.available_bottlenecks) if bottlenecks is None else list(bottlenecks)
        unknown = [b for b in wanted if b not in available]
        if unknown:
            raise UnknownBottleneckError(
                f"bottleneck(s) {unknown} not in the model {model_dir / 'model.pb'}; "
                f"available bottlenecks: {', '.join(self.available_bottlenecks)}"
            )

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString((model_dir / "model.pb").read_bytes())
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.import_graph_def(graph_def, name="")
            tensor = self.graph.get_tensor_by_name
            endpoints = self.manifest["endpoints"]
            self.ends = {
                "input": tensor(endpoints["input"]),
                "logit": tensor(endpoints["logits"]),
                "prediction": tensor(endpoints["probabilities"]),
            }
            self.bottlenecks_tensors = {b: tensor(available[b]) for b in wanted}
            self.y_input = tf.compat.v1.placeholder(tf.int64, shape=[None], name="tcav_target")
            logits = self.ends["logit"]
            one_hot = tf.one_hot(self.y_input, len(self.labels))
            self.loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=one_hot, logits=logits))
            # The paper's score differentiates the target class's logit itself.
            self.target_logit = tf.reduce_sum(logits * one_hot)
            if with_gradients:
                self._make_gradient_tensors()
            self.logit_gradients = {
                b: tf.gradients(ys=self.target_logit, xs=t)[0] for b, t in self.bottlenecks_tensors.items()
            } if with_gradients else {}
        self.sess = tf.compat.v1.Session(graph=self.graph)

    # --- what tcav's ModelWrapper leaves to subclasses
    def get_image_shape(self) -> list[int]:
        """Input image shape ``[height, width, 3]`` (tcav's ImageActivationGenerator resizes to it)."""
        return self.image_shape

    def label_to_id(self, label: str) -> int:
        """Index of class ``label`` in the logits."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ModelLoadError(f"class {label!r} is not a label of this model; labels: {', '.join(self.labels)}") from None

    def id_to_label(self, idx: int) -> str:
        """Class name of logit ``idx``."""
        return self.labels[idx]

    # --- batched helpers used by this project's engine
    def activations(self, images: np.ndarray, bottleneck: str, batch_size: int = 128) -> np.ndarray:
        """Activations of ``images`` at ``bottleneck``, computed in batches."""
        return self.activations_at(images, [bottleneck], batch_size)[bottleneck]

    def activations_at(self, images: np.ndarray, bottlenecks: list[str], batch_size: int = 128) -> dict[str, np.ndarray]:
        """Activations of ``images`` at every one of ``bottlenecks``, from one forward pass per batch.

        One pass fetching all layers does the shared early layers once; the values are the
        same as layer by layer (tested).
        """
        tensors = [self.bottlenecks_tensors[b] for b in bottlenecks]
        parts = [
            self.sess.run(tensors, {self.ends["input"]: images[i:i + batch_size]})
            for i in range(0, len(images), batch_size)
        ]
        return {
            b: np.concatenate([part[k] for part in parts]) if parts else np.zeros((0, *t.shape[1:]), np.float32)
            for k, (b, t) in enumerate(zip(bottlenecks, tensors))
        }

    def gradients(self, acts: np.ndarray, class_id: int, bottleneck: str, target: str = "loss",
                  batch_size: int = 128) -> np.ndarray:
        """Per-example gradients at ``bottleneck`` for class ``class_id``, flattened to ``(n, d)``.

        ``target="loss"``: of the cross-entropy (tcav's definition; negative along a CAV
        means the class gets more likely). ``target="logit"``: of the class logit (the paper's).
        """
        if target not in GRADIENT_TARGETS:
            raise ValueError(f"target must be one of {GRADIENT_TARGETS}, got {target!r}")
        grad = (self.bottlenecks_gradients if target == "loss" else self.logit_gradients)[bottleneck]
        tensor = self.bottlenecks_tensors[bottleneck]
        parts = []
        for i in range(0, len(acts), batch_size):
            batch = acts[i:i + batch_size]
            parts.append(self.sess.run(grad, {tensor: batch, self.y_input: np.full(len(batch), class_id)}))
        return np.concatenate(parts).reshape(len(acts), -1)

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits of ``images``."""
        return self.sess.run(self.ends["logit"], {self.ends["input"]: images})

    def logits_batched(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits of ``images``, computed ``batch_size`` at a time (forward passes only)."""
        parts = [self.logits(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), np.float32)
