"""A run the explorer can open, built in seconds: no DVC, a tiny CNN trained on solid colours.

``fire`` images are mostly red, ``water`` blue, ``grass`` green (with noise); concept sets
``red`` and ``blue`` and random sets are made the same way, and the CAVs are learned by the
project's engine on the exported graph, exactly as the tcav stage does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["fire", "water", "grass"]
HUES = {"fire": (200, 30, 30), "water": (30, 40, 200), "grass": (30, 170, 40), "red": (210, 20, 20),
        "blue": (20, 30, 210)}
SIZE = 16
#: Kept small so the pixel limit can be tested with an ordinary file.
MAX_PIXELS = 1_000_000


def colour_images(rng: np.random.Generator, hue, n: int) -> np.ndarray:
    """``n`` uint8 images of ``hue`` on a random background patch (a blob of colour over noise)."""
    images = rng.integers(0, 255, (n, SIZE, SIZE, 3)).astype(np.float64) * 0.5
    for image in images:
        top, left = rng.integers(0, SIZE // 3, 2)
        image[top:top + SIZE // 2 + 3, left:left + SIZE // 2 + 3] = hue
    return np.clip(images, 0, 255).astype(np.uint8)


def random_images(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 255, (n, SIZE, SIZE, 3)).astype(np.uint8)


def write_pngs(folder: Path, images: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")


def make_explorer_run(root: Path, pooling: str = "spatial_mean", with_cavs: bool = True) -> Path:
    """Params, test images, an exported model and (``with_cavs``) results/cavs.npz under ``root``."""
    import keras

    from model.cnn import bottleneck_layer_names, build_cnn
    from model.freeze import export_model

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["classes"] = CLASSES
    params["preprocess"]["image_size"] = SIZE
    params["crawl"]["curation"]["max_pixels"] = MAX_PIXELS
    params["crawl"]["num_random_sets"] = 2
    params["train"].update(conv_filters=[4, 8], dense_units=8)
    params["tcav"].update(concepts=["red", "blue"], bottlenecks=["pool1", "conv2"], num_random_exp=2, pooling=pooling)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    train = {c: colour_images(rng, HUES[c], 40) for c in CLASSES}
    for c in CLASSES:
        write_pngs(root / "datasets" / "processed" / "test" / c, colour_images(rng, HUES[c], 4))
    # a grass image that is red all over: the model calls it fire, so the gallery has a wrong one
    Image.fromarray(colour_images(rng, HUES["fire"], 1)[0]).save(root / "datasets" / "processed" / "test" / "grass" /
                                                                 "red_grass.png")
    x = np.concatenate([train[c] for c in CLASSES]).astype(np.float32) / 255.0
    y = np.repeat(np.arange(3), 40)
    keras.utils.set_random_seed(0)
    model = build_cnn(SIZE, 3, [4, 8], 8, 0.0)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=25, batch_size=30, verbose=0)
    frozen = root / "models" / "frozen"
    export_model(model, CLASSES, bottleneck_layer_names([4, 8], 8), frozen, x[:8])
    if with_cavs:
        write_cavs(root, pooling, root / "results" / "cavs.npz")
        (root / "results" / "scores.csv").write_text(
            "target,concept,bottleneck,significant,score_mean,verdict\n"
            "fire,red,conv2,True,0.9,raises class (confirmed)\nwater,red,conv2,True,0.1,lowers class (not confirmed)\n"
            "grass,red,pool1,True,0.9,contradicted\ngrass,blue,conv2,False,0.5,not significant\n")
    return root


def write_cavs(root: Path, pooling: str, path: Path) -> None:
    """Learn the run's CAVs on its exported model with the project's engine, as the tcav stage does."""
    from tcavcore.cav_store import CavStore, sort_cavs, stored_cav, write_cav_store
    from tcavcore.engine import run_tcav
    from wrappers import FrozenGraphWrapper

    rng = np.random.default_rng(1)
    wrapper = FrozenGraphWrapper(root / "models" / "frozen")
    as_input = lambda images: images.astype(np.float32) / 255.0  # noqa: E731
    classes = {c: as_input(colour_images(rng, HUES[c], 6)) for c in CLASSES}
    concepts = {c: as_input(colour_images(rng, HUES[c], 20)) for c in ("red", "blue")}
    randoms = {f"random500_{i}": as_input(random_images(rng, 20)) for i in range(2)}
    kept = []
    run_tcav(wrapper, classes, concepts, randoms, ["pool1", "conv2"], [0.1], seed=0, progress=False, pooling=pooling,
             on_concept_cav=lambda cav, c, r: kept.append(stored_cav(cav, c, r)))
    shapes = {b: tuple(wrapper.activations_at(classes["fire"][:1], [b])[b].shape[1:]) for b in ("pool1", "conv2")}
    cavs = sort_cavs(kept, list(concepts), list(randoms), ["pool1", "conv2"], [0.1])
    write_cav_store(path, CavStore(pooling, shapes, cavs))
