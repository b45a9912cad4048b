"""How a pipeline image (float32 RGB in [0, 1]) becomes what the user's model expects.

The recipe is baked into the converted graph in front of the model, so the frozen graph's
``input`` takes the same [0, 1] images as the built-in model's does and nothing downstream
(tcav, views) needs to know which model it is looking at.
"""

from __future__ import annotations

from typing import Sequence

# The names ``model.input.preprocessing`` accepts (keras.applications modules with a
# ``preprocess_input``); each takes RGB values in [0, 255] as Keras documents.
from common.params import KERAS_PREPROCESSING  # noqa: F401  (re-exported for callers)


def is_identity(value_range: Sequence[float], preprocessing: str | None) -> bool:
    """True when the model takes the pipeline's [0, 1] images unchanged (no op is added)."""
    return preprocessing is None and tuple(float(v) for v in value_range) == (0.0, 1.0)


def apply(images, value_range: Sequence[float], preprocessing: str | None):
    """TensorFlow ops turning ``images`` in [0, 1] into the model's input.

    ``preprocessing``: a name of :data:`KERAS_PREPROCESSING` (its ``preprocess_input`` on
    values in [0, 255]); otherwise a linear map of [0, 1] onto ``value_range`` (e.g. [0, 255]
    or [-1, 1]). The identity recipe returns ``images`` itself, so the graph is unchanged.
    """
    import tensorflow as tf

    if is_identity(value_range, preprocessing):
        return images
    if preprocessing is not None:
        import keras

        # An attribute, not importlib: this runs inside traced functions, where autograph
        # would try (and warn about failing) to convert the import machinery.
        module = getattr(keras.applications, preprocessing)
        return tf.cast(module.preprocess_input(images * 255.0), tf.float32)
    low, high = (float(v) for v in value_range)
    return images * (high - low) + low
