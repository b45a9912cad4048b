"""The model side of the pipeline: bringing a user's own classifier into the frozen-graph form.

Importing TensorFlow needs the same environment as every stage (see ``pipeline/__init__.py``):
the pure-python protobuf runtime for tcav's generated code, and oneDNN off for reproducible sums.
"""

import os

os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
