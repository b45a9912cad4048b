"""DVC stages of the TCAV pipeline, one thin module per stage (``python -m pipeline.<stage>``)."""

import os

# Set before TensorFlow or protobuf is first imported by any stage:
# - tcav 0.2.2 ships protobuf code generated for protobuf 3; the pure-python
#   implementation still accepts it under protobuf >= 4.
# - oneDNN reorders float sums; off, so that reruns give identical numbers.
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
