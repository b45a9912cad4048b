"""Stage ``views``: what the network sees, as data for the report's charts.

``python -m pipeline.views --params P --model M --init-model M --processed DIR --concepts DIR --out DIR``
(``dvc.yaml`` gives the paths).

Reads the trained model and the same network before training (``models/model.keras``,
``models/model_init.keras``), the class images of the test and target splits, and the concept
and random images, and writes into ``--out`` (replaced as a whole, atomically):

- ``confusion.json``: the confusion matrix of the trained model on the test split
  (rows: true class, columns: predicted class, in ``classes`` order);
- ``feature_maps.npz``: for ``views.images_per_class`` images of each class, the input
  (``images``, uint8), their class indices (``labels``) and, for every conv and pool layer,
  the first ``views.max_channels`` feature maps before training (``before/<layer>``) and
  after (``after/<layer>``);
- ``projections.npz``: for every ``tcav.bottlenecks`` layer, the 2-D projection
  (``views.projection``: PCA or t-SNE, seeded) of the flattened activations of class,
  concept and random images: ``<layer>/xy``, one ``groups`` name per point and ``kinds``
  (class, concept or random), and for PCA ``<layer>/explained`` (variance ratio of the two axes).

The report stage draws them; keeping the arrays here keeps TensorFlow out of the report.
With an outside model (``model.source`` not ``train``) the confusion matrix and projections come
from the converted graph (``--frozen``) and there are no feature maps (nothing was trained here).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.errors import stage_main
from common.files import atomic_directory
from common.params import load_params

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.views", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--model", required=True, help="the trained Keras model")
    parser.add_argument("--init-model", required=True, help="the untrained network")
    parser.add_argument("--processed", required=True, help="preprocessed class images")
    parser.add_argument("--concepts", required=True, help="concept folders (and random/)")
    parser.add_argument("--frozen", default="models/frozen", help="the converted graph (read for an outside model)")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    from model.inspection import compute_views

    files = compute_views(params, Path(args.model), Path(args.init_model), Path(args.processed), Path(args.concepts),
                          Path(args.frozen))
    with atomic_directory(args.out) as folder:
        for name, data in files.items():
            (folder / name).write_bytes(data)
    log.info("views: wrote %s to %s", ", ".join(files), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
