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
  (``views.projection``: PCA, t-SNE or UMAP, seeded) of the flattened activations of class,
  concept and random images: ``<layer>/xy``, one ``groups`` name per point and ``kinds``
  (class, concept or random), and for PCA ``<layer>/explained`` (variance ratio of the two axes);
- the projection during training, from the train stage's ``--epoch-activations``
  (:mod:`model.epoch_projection`: one map fitted once on every epoch, so movement between frames
  is movement in the layer): ``epoch_projection.gif`` (a frame per epoch), ``epoch_strip.png``,
  ``train_test.png`` (the test images on the trained network's map, misclassified ones circled)
  and their data for ``dvc plots``: ``epoch_projection.csv``, ``epoch_separation.csv``,
  ``train_test_projection.csv``. With an outside model nothing was recorded: none of these.

The report stage draws the arrays; keeping them here keeps TensorFlow out of the report. The
training-time pictures are drawn here (:func:`epoch_files`), and the report embeds them.
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
    parser.add_argument("--epoch-activations", required=True, help="the train stage's activations per epoch")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    from model.inspection import compute_views

    files = compute_views(params, Path(args.model), Path(args.init_model), Path(args.processed), Path(args.concepts),
                          Path(args.frozen))
    files.update(epoch_files(params, Path(args.epoch_activations), Path(args.model), Path(args.processed)))
    with atomic_directory(args.out) as folder:
        for name, data in files.items():
            (folder / name).write_bytes(data)
    log.info("views: wrote %s to %s", ", ".join(files), args.out)
    return 0


def epoch_files(params, recording: Path, model: Path, processed: Path) -> dict[str, bytes]:
    """The training-time projection's files by name (none when the train stage recorded nothing).

    Drawn here rather than by the report: the report reruns on any change of ``params.yaml``,
    and twenty-odd frames are not worth redrawing for a changed significance level.
    """
    from model.epoch_projection import epoch_csv, separation_csv, train_test_csv, training_time_maps
    from reporting.charts.epochs import render_epoch_animation, render_epoch_strip, render_train_test

    maps = training_time_maps(params, recording, model, processed)
    if isinstance(maps, str):
        log.info("views: no projection during training (%s)", maps)
        return {}
    frames, placed = maps
    return {
        "epoch_projection.gif": render_epoch_animation(frames),
        "epoch_strip.png": render_epoch_strip(frames),
        "train_test.png": render_train_test(placed),
        "epoch_projection.csv": epoch_csv(frames).encode(),
        "epoch_separation.csv": separation_csv(frames).encode(),
        "train_test_projection.csv": train_test_csv(placed).encode(),
    }


if __name__ == "__main__":
    sys.exit(main())
