"""A local web page on the current run: drop, draw or pick an image and see what the model sees.

``python -m pipeline.explore`` (or ``make explore``) serves it on 127.0.0.1. :mod:`explorer.session`
computes (probabilities, feature maps, each concept's presence and concept map),
:mod:`explorer.pictures` draws, :mod:`explorer.server` answers HTTP; ``static/`` is the page.
"""

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
