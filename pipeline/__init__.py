"""The pipeline's entry points: one thin module per DVC stage (``python -m pipeline.<stage>``).

Each reads its slice of ``params.yaml``, calls library code (``collection``, ``images``,
``model``, ``wrappers``, ``tcavcore``, ``reporting``) and writes its outputs.
"""

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
