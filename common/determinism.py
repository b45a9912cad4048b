"""Reproducible runs: one seed for Python, NumPy and TensorFlow, and deterministic kernels."""

from __future__ import annotations


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and force deterministic kernels (bit-identical reruns on CPU)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
