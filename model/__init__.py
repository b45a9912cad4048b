"""The model side: the small CNN (architecture, training, export to a frozen graph, what it sees
inside), and bringing a user's own classifier into the same frozen-graph form (convert)."""

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
