"""The TCAV method's core, as plain functions over arrays: CAVs, scores, the engine that runs
them, the content cache, the statistics and verdicts, and the run/score records."""

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first: tcav imports it)
