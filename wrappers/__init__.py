"""The model boundary: everything model-specific (loading, endpoints, labels, gradients)."""

from wrappers.frozen_graph import FrozenGraphWrapper, ModelLoadError, UnknownBottleneckError

__all__ = ["FrozenGraphWrapper", "ModelLoadError", "UnknownBottleneckError"]
