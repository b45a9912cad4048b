"""List the layers of the model that can be TCAV bottlenecks, with output shapes, in network order.

    python -m pipeline.layers [--params params.yaml] [--all]      (or: make layers)

The model is the one ``params.yaml`` names: the built-in CNN (``model.source: train``, its
architecture from ``train``), or your own (``model.path``, read as ``model.source`` says).
Pick ``tcav.bottlenecks`` from the first column. ``--all`` also lists the layers that cannot be
bottlenecks and why (the output, a layer called twice, not one tensor per example, ...).
"""

from __future__ import annotations

import argparse
import math
import sys

from common.errors import stage_main
from common.params import Params, load_params


def train_layers(params: Params) -> list:
    """The built-in CNN's bottleneck layers and their shapes (an untrained network: only shapes matter)."""
    from model.keras_graph import LayerInfo
    from model.cnn import bottleneck_layer_names, build_cnn

    t = params.train
    cnn = build_cnn(params.preprocess.image_size, len(params.classes), t.conv_filters, t.dense_units, t.dropout)
    return [LayerInfo(name=name, path=(name,), kind=type(cnn.get_layer(name)).__name__,
                      shape=tuple(cnn.get_layer(name).output.shape))
            for name in bottleneck_layer_names(t.conv_filters, t.dense_units)]


def table(layers: list, show_all: bool) -> str:
    """The layers as aligned text: name, kind, output shape, values per example (and problems)."""
    from model.keras_graph import shape_text

    rows = [("layer", "kind", "output shape", "values/example", "" if not show_all else "bottleneck?")]
    for info in layers:
        if info.problem and not show_all:
            continue
        size = math.prod(d for d in info.shape[1:] if d is not None) if info.shape else 0
        rows.append((info.name, info.kind, shape_text(info.shape) if info.shape else "?", f"{size:,}",
                     "" if not show_all else ("yes" if not info.problem else f"no: {info.problem}")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
                     for row in rows)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.layers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--all", action="store_true", help="also the layers that cannot be bottlenecks, and why")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    if params.model.source == "train":
        layers = train_layers(params)
        where = "the built-in CNN (model.source: train)"
    else:
        from model.convert import model_layers

        layers = model_layers(params)
        where = f"{params.model.path} (model.source: {params.model.source})"
    usable = [info for info in layers if not info.problem]
    print(f"{where}: {len(usable)} layers can be bottlenecks (tcav.bottlenecks), input side first")
    print(table(layers, args.all))
    chosen = [name for name in params.tcav.bottlenecks if name not in {info.name for info in usable}]
    if chosen:
        print(f"warning: tcav.bottlenecks {chosen} are not among them", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
