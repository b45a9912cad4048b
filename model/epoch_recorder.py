"""Recording one layer's activations for a fixed sample of training images, epoch by epoch.

The train stage hands an :class:`EpochRecorder` to ``model.fit`` as a Keras callback: it takes
the activations of ``views.epoch_layer`` for the same ``views.epoch_images`` training images
before the first epoch (epoch 0, the untrained network) and after every epoch. The views stage
turns them into the training-time projection (:mod:`model.epoch_projection`).

Recording is a forward pass in inference mode (no dropout, so it draws no random numbers and
changes no weight): the trained model is bit for bit the one trained without it
(``tests/model/test_epoch_recorder.py``).
"""

from __future__ import annotations

import logging
from typing import Sequence

import keras
import numpy as np

from common.errors import PipelineError
from common.files import npz_bytes

log = logging.getLogger(__name__)

#: Bytes of recording above which the train stage warns (float32 activations of every epoch).
LARGE_RECORDING = 100 * 2**20


def epoch_sample(labels: np.ndarray, count: int, num_classes: int, seed: int) -> np.ndarray:
    """Indices of ``count`` images spread evenly over the classes, chosen with ``seed``, sorted.

    Each class gets ``count // num_classes`` (the first classes one more for the remainder),
    or all its images when it has fewer; the choice within a class is a seeded permutation,
    so the same split and seed give the same sample on every run.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(num_classes):
        where = np.flatnonzero(labels == label)
        wanted = count // num_classes + (1 if label < count % num_classes else 0)
        chosen.append(rng.permutation(where)[:wanted])
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)


class EpochRecorder(keras.callbacks.Callback):
    """A Keras callback keeping ``layer``'s activations (flattened) and the predicted class of
    ``images`` at the start of training and after every epoch."""

    def __init__(self, images: np.ndarray, layer: str, batch_size: int = 256):
        super().__init__()
        self.images = images
        self.layer = layer
        self.batch_size = batch_size
        self.epochs: list[int] = []
        self._activations: list[np.ndarray] = []
        self._predictions: list[np.ndarray] = []
        self._probe = None

    def on_train_begin(self, logs=None):
        names = [layer.name for layer in self.model.layers]
        if self.layer not in names:
            raise PipelineError(f"views.epoch_layer: {self.layer!r} is not a layer of the model; it has "
                                f"{', '.join(names)}")
        self._probe = keras.Model(self.model.input, [self.model.get_layer(self.layer).output, self.model.output])
        values = int(np.prod(self.model.get_layer(self.layer).output.shape[1:]))
        size = values * len(self.images) * 4 * (1 + (self.params or {}).get("epochs", 1))
        if size > LARGE_RECORDING:  # a wide conv layer: the recording and its map grow with it
            log.warning("views.epoch_layer %s has %d values per image: the recording will take about %d MB; "
                        "gap, dense or views.epoch_images smaller keep it small", self.layer, values, size // 2**20)
        self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch + 1)

    def _record(self, epoch: int) -> None:
        features, logits = [], []
        for start in range(0, len(self.images), self.batch_size):
            # Called directly with training=False: dropout is off and no random number is drawn.
            layer_out, out = self._probe(self.images[start:start + self.batch_size], training=False)
            features.append(np.asarray(layer_out).reshape(len(layer_out), -1))
            logits.append(np.asarray(out))
        self.epochs.append(epoch)
        self._activations.append(np.concatenate(features).astype(np.float32))
        self._predictions.append(np.argmax(np.concatenate(logits), axis=1).astype(np.int16))

    @property
    def activations(self) -> np.ndarray:
        """(recorded epochs, images, features) float32: one row of flattened activations per image."""
        return np.stack(self._activations)

    @property
    def predictions(self) -> np.ndarray:
        """(recorded epochs, images): the class each image was given at that epoch."""
        return np.stack(self._predictions)


def recording_bytes(recorder: EpochRecorder, labels: np.ndarray, indices: np.ndarray,
                    classes: Sequence[str]) -> bytes:
    """The recording as ``.npz`` bytes (byte-identical for equal input): ``epochs``, ``activations``
    (epochs x images x features), ``predictions``, the images' true ``labels`` and their ``indices``
    in the train split (content order per class, as load_split reads it), the ``layer`` and the ``classes``."""
    return npz_bytes({
        "epochs": np.asarray(recorder.epochs, np.int64),
        "activations": recorder.activations,
        "predictions": recorder.predictions,
        "labels": np.asarray(labels, np.int64),
        "indices": np.asarray(indices, np.int64),
        "layer": np.array(recorder.layer),
        "classes": np.array(list(classes)),
    })


def not_recorded_bytes(reason: str) -> bytes:
    """The file the train stage writes when it trains nothing: no epoch, and why."""
    return npz_bytes({"epochs": np.zeros(0, np.int64), "reason": np.array(reason)})


def read_recording(path) -> dict[str, np.ndarray]:
    """The arrays of a recording file; raises :class:`PipelineError` naming it when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (the train stage writes it; run `dvc repro`)") from None
    except (ValueError, OSError) as error:
        raise PipelineError(f"{path}: not a readable .npz archive ({error})") from None
    if "epochs" not in arrays:
        raise PipelineError(f"{path}: no `epochs` array; it is out of date or damaged: run `dvc repro`")
    return arrays

