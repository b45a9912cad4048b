"""What every part of the project shares: errors, parameters, file writing.

Importing this package first sets the environment TensorFlow and protobuf read when they are
first imported, so every package that reaches TensorFlow (model, wrappers, tcavcore) imports
it before anything else:
- tcav 0.2.2 ships protobuf code generated for protobuf 3; the pure-python implementation
  still accepts it under protobuf >= 4.
- oneDNN reorders float sums; off, so that reruns give identical numbers.
"""

import os

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
