"""The small CNN: its architecture, training, export to a frozen graph, and what it sees inside."""

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
