"""Real architectures built without downloads (``weights=None``), trained a few steps on the
built-in synthetic classes so their logits are not constant, and saved in every format the
pipeline reads (used by the bring-your-own-model tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import model  # noqa: F401  (TensorFlow environment first)

CLASSES = ("fire", "water", "grass")


def synthetic_data(size: int, per_class: int = 24, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Built-in class images as [0, 1] float32 and their labels."""
    from images.loading import to_model_input
    from worlds.generate import generate

    images, labels = [], []
    for label, name in enumerate(CLASSES):
        for _, image in generate("class", name, per_class, size=max(size, 32), seed=seed):
            images.append(to_model_input(image, size))
            labels.append(label)
    return np.stack(images), np.asarray(labels)


def mobilenet_in_sequential(size: int = 32):
    """keras.applications.MobileNetV2 (weights=None, softmax head) inside a Sequential that maps
    [0, 255] inputs to MobileNetV2's [-1, 1]: a nested application model."""
    import keras

    base = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=len(CLASSES), alpha=0.35)
    return keras.Sequential([keras.Input((size, size, 3)), keras.layers.Rescaling(1 / 127.5, -1.0, name="to_unit"), base],
                            name="mobilenet_seq")


def resnet_style(size: int = 32):
    """A small functional ResNet: residual adds, a concatenation, a layer feeding three others,
    batch normalisation, dropout, and a separate softmax Activation at the end."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)  # feeds block1_conv1, block1_add and the concatenation
    y = layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(x)
    y = layers.Conv2D(8, 3, padding="same", name="block1_conv2")(y)
    y = layers.BatchNormalization(name="block1_bn")(y)
    x1 = layers.ReLU(name="block1_out")(layers.Add(name="block1_add")([x, y]))
    x2 = layers.Concatenate(name="concat")([x1, x])
    x2 = layers.MaxPooling2D(2, name="pool")(x2)
    z = layers.Conv2D(16, 3, padding="same", activation="relu", name="block2_conv")(x2)
    z = layers.GlobalAveragePooling2D(name="gap")(z)
    z = layers.Dropout(0.3, name="dropout")(z)
    logits = layers.Dense(len(CLASSES), name="logits")(z)
    return keras.Model(inputs, layers.Activation("softmax", name="probabilities")(logits), name="resnet_style")


def train_briefly(net, x: np.ndarray, y: np.ndarray, scale: float = 1.0, epochs: int = 3, seed: int = 0):
    """A few epochs, enough that the outputs depend on the image (seeded)."""
    import keras

    keras.utils.set_random_seed(seed)
    net.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    net.fit(x * scale, y, epochs=epochs, batch_size=16, verbose=0)
    return net


def save_frozen_pb(net, path: Path, size: int) -> tuple[str, str]:
    """Freeze ``net`` the way a TensorFlow user elsewhere would (default op names); return the
    input and output tensor names of the ``.pb``."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda images: net(images, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec([None, size, size, 3], tf.float32, name="images"))
    frozen = convert_variables_to_constants_v2(concrete)
    path.write_bytes(frozen.graph.as_graph_def().SerializeToString(deterministic=True))
    return frozen.inputs[0].name, frozen.outputs[0].name
