"""The model boundary: everything model-specific (loading, endpoints, labels, gradients)."""

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
from wrappers.frozen_graph import FrozenGraphWrapper, ModelLoadError, UnknownBottleneckError

__all__ = ["FrozenGraphWrapper", "ModelLoadError", "UnknownBottleneckError"]
