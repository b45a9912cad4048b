"""Training the small CNN: seeding, the outlier-exposure background images, the sanity-check
random labels, the fit itself, and saving the model and its per-epoch history."""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path

import numpy as np

from common.determinism import make_deterministic

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")


def background_images(count: int, size: int, seed: int, world: str = "colour") -> np.ndarray:
    """``count`` procedurally generated images with no class in them (noise, shapes, patterns).

    Trained toward the uniform distribution, they teach the classifier to say "no class"
    when there is no class evidence, so that no class becomes the default answer for
    whatever is unlike the others (outlier exposure, Hendrycks et al. 2019).
    """
    from images.loading import to_model_input
    from worlds.generate import generate

    return np.stack([to_model_input(image, size)
                     for _, image in generate("random", "background", count, size=max(size, 32), seed=seed,
                                                     world=world)])


#: Timestamp of every member of a saved ``.keras`` archive (the zip format's earliest).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def save_model(model, path: str | Path) -> Path:
    """Save a Keras model atomically, byte for byte the same for the same weights.

    Keras wants a ``.keras`` name, so the temporary keeps it. A Keras 3 archive records when it
    was saved (each zip member's time, ``date_saved`` in ``metadata.json``), so two saves of one
    model differ, DVC sees a new ``models/trained`` on every training run and a fresh
    ``make run`` leaves ``dvc.lock`` modified; its config also numbers shared objects by their
    memory address, which differs from process to process. :func:`normalise_keras_archive` pins
    all three.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    model.save(tmp)
    normalise_keras_archive(tmp)
    tmp.replace(path)
    return path


def renumber_shared_objects(config: str) -> str:
    """``config.json`` text with each ``shared_object_id`` (a Python ``id()``) renumbered 1, 2, ...

    Numbered in order of first appearance, so objects that were shared stay shared on loading
    (Keras only matches the ids with each other) and the text no longer depends on where the
    objects happened to live in memory.
    """
    numbers: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f'{match.group(1)}{numbers.setdefault(match.group(2), len(numbers) + 1)}'

    return re.sub(r'("shared_object_id":\s*)(\d+)', number, config)


def normalise_keras_archive(path: str | Path) -> None:
    """Rewrite the ``.keras`` zip at ``path`` with fixed member times, no ``date_saved`` and
    shared-object ids that do not depend on memory addresses."""
    import json
    import zipfile

    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in members:
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata, sort_keys=True).encode()
            elif info.filename == "config.json":
                data = renumber_shared_objects(data.decode("utf-8")).encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = info.compress_type
            fixed.external_attr = 0o644 << 16
            archive.writestr(fixed, data)
    path.write_bytes(buffer.getvalue())


def random_labels(labels: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    """Labels with no information about the true ones, not even by chance.

    Within each true class the new labels are spread as evenly as possible over all classes
    (then shuffled, seeded), so that no feature of a true class, such as its colour, predicts
    a new label. A plain permutation of the labels leaves chance majorities (say 35 of the 90
    red images labelled fire), which a network learns, and then TCAV rightly finds the colour.
    """
    rng = np.random.default_rng(seed)
    out = np.empty_like(labels)
    for true_class in range(num_classes):
        where = np.flatnonzero(labels == true_class)
        offset = rng.integers(num_classes)  # which labels get the remainder varies by class
        out[where] = rng.permutation((np.arange(len(where)) + offset) % num_classes)
    return out


#: Largest shift of an augmented image, as a share of its side.
MAX_SHIFT = 0.125


def augment_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``images`` (N, H, W, C), each flipped, turned by a multiple of 90 degrees and shifted.

    Every transform is exact (no resampling blurs a fine texture, no colour changes): one of
    the 8 flips and quarter turns, then a shift by up to :data:`MAX_SHIFT` of the side with the
    border mirrored. A class decided by colour, texture or shape keeps its cue under all of them.
    """
    out = np.empty_like(images)
    size = images.shape[1]
    pad = max(1, int(round(size * MAX_SHIFT)))
    for i, image in enumerate(images):
        image = np.rot90(image, int(rng.integers(4)))
        if rng.random() < 0.5:
            image = image[:, ::-1]
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        dy, dx = rng.integers(0, 2 * pad + 1, 2)
        out[i] = padded[dy:dy + size, dx:dx + size]
    return out


def augmented_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """A Keras dataset of shuffled, augmented batches (:func:`augment_batch`), seeded: the
    same seed gives the same batches in every run."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng([seed, 0xA06])
            self.order = self.rng.permutation(len(x))

        def __len__(self) -> int:
            return int(np.ceil(len(x) / batch_size))

        def __getitem__(self, index: int):
            chosen = self.order[index * batch_size:(index + 1) * batch_size]
            return augment_batch(x[chosen], self.rng), y[chosen]

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(x))

    return Batches()


def train_model(params, processed: Path, init_model_path: str | Path | None = None, record_epochs: bool = False):
    """Build and fit the CNN; return ``(model, history rows, metrics dict, recording)``.

    ``init_model_path``: where to save the network before training (saving draws no random
    numbers, so the trained model is the same with or without it). ``record_epochs``: the
    recording is the ``.npz`` bytes of ``views.epoch_layer``'s activations for a seeded sample of
    training images at every epoch (:mod:`model.epoch_recorder`; it changes no weight either),
    else None.
    """
    import keras

    from images.splits import load_split
    from model.cnn import build_cnn

    make_deterministic(params.seed)
    size = params.preprocess.image_size
    splits = {s: load_split(processed, s, params.classes, size) for s in ("train", "val", "test")}
    x_train, y_train = splits["train"]
    log.info("train: %d training, %d validation, %d test images, %d classes",
             len(x_train), len(splits["val"][0]), len(splits["test"][0]), len(params.classes))

    p = params.train
    recorder = None
    if record_epochs:
        from model.epoch_recorder import EpochRecorder, epoch_sample

        # The class images only (never the background ones), labelled with their true class even
        # under train.random_labels: the frames then show whether the true classes pull apart.
        sample = epoch_sample(y_train, params.views.epoch_images, len(params.classes), params.seed)
        recorder = EpochRecorder(x_train[sample], params.views.epoch_layer)
    if p.random_labels:
        splits["train"] = (x_train, random_labels(y_train, len(params.classes), params.seed))
        log.warning("train: train.random_labels is on: the training labels are shuffled (a sanity-check model)")
    model = build_cnn(size, len(params.classes), p.conv_filters, p.dense_units, p.dropout, p.batch_norm)
    if init_model_path is not None:
        save_model(model, init_model_path)
    learning_rate = p.learning_rate
    if p.lr_schedule == "cosine":  # settle at the end: the last epoch's model is the one kept
        steps = int(np.ceil((len(x_train) + p.background_images) / p.batch_size)) * p.epochs
        learning_rate = keras.optimizers.schedules.CosineDecay(p.learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=p.label_smoothing),
        metrics=["accuracy"],
    )
    num_classes = len(params.classes)
    one_hot = {s: (x, keras.utils.to_categorical(y, num_classes)) for s, (x, y) in splits.items()}
    train_x, train_y = one_hot["train"]
    if p.background_images:
        background = background_images(p.background_images, size, params.seed, params.crawl.synthetic_task)
        train_x = np.concatenate([train_x, background])
        train_y = np.concatenate([train_y, np.full((len(background), num_classes), 1.0 / num_classes, np.float32)])
    has_val = len(splits["val"][0]) > 0
    if p.augment:
        data = {"x": augmented_batches(train_x, train_y, p.batch_size, params.seed)}
    else:
        data = {"x": train_x, "y": train_y, "batch_size": p.batch_size, "shuffle": True}
    fit = model.fit(**data, validation_data=one_hot["val"] if has_val else None, epochs=p.epochs, verbose=2,
                    callbacks=[recorder] if recorder is not None else None)
    history = []
    for epoch in range(p.epochs):
        row = {"epoch": epoch + 1}
        for key in HISTORY_COLUMNS[1:]:
            values = fit.history.get(key)
            row[key] = float(values[epoch]) if values else float("nan")
        history.append(row)

    metrics = {}
    for split, (x, y) in one_hot.items():
        if len(x) == 0:
            continue
        loss, accuracy = model.evaluate(x, y, batch_size=256, verbose=0)
        metrics[split] = {"accuracy": round(float(accuracy), 6), "loss": round(float(loss), 6), "n_images": int(len(x))}
    recording = None
    if recorder is not None:
        from model.epoch_recorder import recording_bytes

        recording = recording_bytes(recorder, y_train[sample], sample, params.classes)
    return model, history, metrics, recording


def history_csv(history: list[dict]) -> str:
    """The per-epoch history as CSV text with fixed columns and number formatting."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in history:
        writer.writerow([row["epoch"]] + [f"{row[k]:.6f}" for k in HISTORY_COLUMNS[1:]])
    return out.getvalue()
