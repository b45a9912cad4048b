"""Worked example for "Analyse your own model": a MobileNetV2 you already have, offline.

    python examples/own_mobilenet_v2.py [--size 224] [--per-class 60] [--epochs 3]
    cp presets/own_model_mobilenet_v2.yaml params.yaml && dvc repro     (in a copy of the project)

Stands in for a model trained elsewhere: ``keras.applications.MobileNetV2`` with
``weights=None`` (no download), its own softmax head for the three built-in classes, trained a
few epochs on the built-in synthetic images with MobileNetV2's own input preprocessing
(``preprocess_input``: RGB [0, 255] -> [-1, 1]). It writes the model as
``models/examples/mobilenet_v2.keras`` and a params preset that analyses it: ``model.source:
keras``, ``model.input.preprocessing: mobilenet_v2``, ``preprocess.image_size`` = the model's
input size, every class image used for scoring (no training split), bottlenecks from
``python -m pipeline.layers``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import model  # noqa: E402,F401  (TensorFlow environment first)

CLASSES = ["fire", "water", "grass"]
BOTTLENECKS = ["block_6_expand_relu", "block_13_expand_relu", "out_relu"]


def train(size: int, per_class: int, epochs: int, seed: int):
    """MobileNetV2 (weights=None) trained briefly on the built-in classes; returns it and its accuracy."""
    import keras
    import numpy as np

    from images.loading import to_model_input
    from worlds.generate import generate

    keras.utils.set_random_seed(seed)
    images, labels = [], []
    # Other images than the pipeline's class images (another seed): the model is "from elsewhere".
    for label, name in enumerate(CLASSES):
        for _, image in generate("class", name, per_class, size=64, seed=seed + 1000):
            images.append(to_model_input(image, size))
            labels.append(label)
    x = keras.applications.mobilenet_v2.preprocess_input(np.stack(images) * 255.0)
    y = np.asarray(labels)
    net = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=len(CLASSES))
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = net.fit(x, y, epochs=epochs, batch_size=16, shuffle=True, verbose=2)
    return net, float(history.history["accuracy"][-1])


def preset(size: int, model_path: str) -> dict:
    """The params that analyse the model (the shipped params.yaml with a model section)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["classes"] = CLASSES
    params["crawl"]["images_per_class"] = 50
    params["crawl"]["concepts"] = ["red", "blue", "green", "striped"]
    params["preprocess"] = {"image_size": size, "split": {"train": 0.0, "val": 0.0, "test": 1.0}}
    params["tcav"]["concepts"] = ["red", "blue", "green", "striped"]
    params["tcav"]["bottlenecks"] = BOTTLENECKS
    params["tcav"]["max_examples"] = 50
    params["model"] = {
        "source": "keras", "path": model_path, "labels": list(CLASSES),  # a copy: no YAML anchor
        "input": {"value_range": [0.0, 1.0], "preprocessing": "mobilenet_v2"},
        "input_tensor": None, "logits_tensor": None, "signature": "serving_default",
    }
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=224, help="input size (MobileNetV2's default: 224)")
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default="models/examples/mobilenet_v2.keras", help="relative to the project")
    parser.add_argument("--preset", default="presets/own_model_mobilenet_v2.yaml")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    net, accuracy = train(args.size, args.per_class, args.epochs, args.seed)
    path = ROOT / args.model
    path.parent.mkdir(parents=True, exist_ok=True)
    net.save(path)
    header = ("# Written by examples/own_mobilenet_v2.py: analyse a MobileNetV2 (weights=None, trained\n"
              "# there on the built-in classes) as your own model. In a copy of the project:\n"
              "#   python examples/own_mobilenet_v2.py && cp presets/own_model_mobilenet_v2.yaml params.yaml "
              "&& dvc repro\n")
    (ROOT / args.preset).write_text(header + yaml.safe_dump(preset(args.size, args.model), sort_keys=False),
                                    encoding="utf-8")
    print(f"model: {path} ({net.count_params():,} parameters, training accuracy {accuracy:.3f}, "
          f"{time.perf_counter() - start:.0f} s); preset: {ROOT / args.preset}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
