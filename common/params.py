"""Read and validate ``params.yaml``: every key typed and range-checked, errors name the key.

Each stage calls :func:`load_params` and reads only its own slice; DVC tracks the same keys
in ``dvc.yaml`` so a change reruns exactly the stages that read it.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.errors import PipelineError, stage_main

# Folder names double as DVC stage names (crawl_concept@<name>) and file names.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
RANDOM_PREFIX = "random500_"


def random_set_names(count: int) -> list[str]:
    """Names of the random counterexample sets, as tcav names them."""
    return [f"{RANDOM_PREFIX}{i}" for i in range(count)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_names(values: list[str], what: str) -> list[str]:
    for value in values:
        if not re.match(NAME_PATTERN, value):
            raise ValueError(f"{what} name {value!r} must be letters, digits, '_', '-' or '.', starting with a letter or digit")
        if value.startswith(RANDOM_PREFIX) or value == "random":
            raise ValueError(f"{what} name {value!r} is reserved for random counterexample sets")
    if len(set(values)) != len(values):
        raise ValueError(f"{what} names must be unique, got {values}")
    return values


#: Where images come from. ``synthetic``: built-in, offline; ``local``: a folder; the rest are
#: icrawler engines (search engines, the Flickr API, a list of image URLs, web pages to scan).
SourceName = Literal["synthetic", "local", "bing", "google", "baidu", "flickr", "urls", "greedy"]
#: Key of ``crawl.sources`` / ``crawl.queries`` that stands for all the random sets.
RANDOM_KEY = "random"


class WebParams(_Strict):
    """icrawler settings, per folder crawled from the web."""

    # Search results to go through (null: three times the images still needed; many are
    # rejected or duplicates).
    max_num: Optional[int] = Field(None, ge=1, le=100_000)
    # Smallest short side accepted, in pixels (before cropping).
    min_size: int = Field(64, ge=1, le=100_000)
    threads: int = Field(4, ge=1, le=64)
    # Seconds: per request; without any new image (then the folder's crawl ends); whole folder.
    timeout: float = Field(10.0, gt=0, le=600)
    idle_timeout: float = Field(60.0, gt=0, le=86_400)
    time_limit: float = Field(1800.0, gt=0, le=7 * 86_400)

    @model_validator(mode="after")
    def _limits_in_order(self) -> "WebParams":
        if self.idle_timeout > self.time_limit:
            raise ValueError(f"idle_timeout ({self.idle_timeout:g}) must not exceed time_limit ({self.time_limit:g})")
        return self


class CurationParams(_Strict):
    """What the crawl keeps, for every source."""

    # `center`: crop the largest centred square (as the seed experiment did by hand); `none`.
    crop: Literal["center", "none"] = "center"
    # Larger images are scaled down to this side when stored (preprocess resizes them anyway).
    max_side: int = Field(512, ge=16, le=100_000)
    # Width x height above which a file is refused undecoded (a decompression bomb).
    max_pixels: int = Field(50_000_000, ge=1, le=2**40)
    # Perceptual-hash bits (of 64) two images may differ by and still be near duplicates.
    near_duplicate_distance: int = Field(6, ge=0, le=32)


class CrawlParams(_Strict):
    source: SourceName = "synthetic"
    # Per-name source overriding `source`: a class, a crawl concept, or `random` (all random sets).
    sources: dict[str, SourceName] = {}
    local_dir: Optional[str] = None
    queries: dict[str, str] = {}
    images_per_class: int = Field(150, ge=2, le=100_000)
    images_per_concept: int = Field(150, ge=2, le=100_000)
    synthetic_size: int = Field(64, ge=16, le=1024)
    # The synthetic source's world: `colour` (body colour decides the class: fire, water,
    # grass) or `texture` (body texture decides it: tiger, leopard, giraffe).
    synthetic_task: Literal["colour", "texture"] = "colour"
    concepts: list[str] = []
    num_random_sets: int = Field(10, ge=2, le=1000)
    exclude_dir: str = Field("exclude", min_length=1)
    web: WebParams = WebParams()
    curation: CurationParams = CurationParams()

    @field_validator("concepts")
    @classmethod
    def _concept_names(cls, values: list[str]) -> list[str]:
        return _check_names(values, "concept")

    @model_validator(mode="after")
    def _local_needs_dir(self) -> "CrawlParams":
        if "local" in {self.source, *self.sources.values()} and not self.local_dir:
            raise ValueError("source 'local' needs crawl.local_dir: the folder holding one subfolder per class/concept")
        return self

    def source_for(self, name: str) -> str:
        """The source of class or concept ``name``, or of the random sets for :data:`RANDOM_KEY`."""
        return self.sources.get(name, self.source)


class SplitParams(_Strict):
    # train may be 0 only with an outside model (model.source other than train): nothing is trained.
    train: float = Field(0.6, ge=0, lt=1)
    val: float = Field(0.2, ge=0, lt=1)
    test: float = Field(0.2, gt=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> "SplitParams":
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"train + val + test must add up to 1, got {total:g}")
        return self


class PreprocessParams(_Strict):
    image_size: int = Field(32, ge=8, le=1024)
    split: SplitParams = SplitParams()


class TrainParams(_Strict):
    conv_filters: list[int] = Field([16, 32, 32], min_length=1, max_length=8)
    dense_units: int = Field(32, ge=0, le=8192)
    dropout: float = Field(0.25, ge=0, lt=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    background_images: int = Field(300, ge=0, le=1_000_000)
    epochs: int = Field(20, ge=1, le=10_000)
    batch_size: int = Field(32, ge=1, le=65_536)
    learning_rate: float = Field(0.003, gt=0, le=10)
    batch_norm: bool = False
    augment: bool = False
    lr_schedule: Literal["constant", "cosine"] = "constant"
    random_labels: bool = False

    @field_validator("conv_filters")
    @classmethod
    def _positive_filters(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError(f"every entry must be a positive number of filters, got {values}")
        return values


class TcavParams(_Strict):
    concepts: list[str] = Field(min_length=1)
    bottlenecks: list[str] = Field(min_length=1)
    num_random_exp: int = Field(10, ge=2, le=1000)
    cav_model: Literal["linear", "logistic", "pattern"] = "linear"
    # `spatial_mean`: CAVs learned and scored on activations and gradients averaged over
    # height and width (conv layers); `none`: flattened, as the tcav library does.
    pooling: Literal["none", "spatial_mean"] = "spatial_mean"
    alphas: list[float] = Field([0.1], min_length=1)
    target_split: Literal["train", "val", "test"] = "test"
    max_examples: int = Field(150, ge=2, le=100_000)
    score: Literal["tcav", "paper"] = "tcav"
    significance: float = Field(0.05, gt=0, lt=1)
    test: Literal["random", "half"] = "random"
    correction: Literal["holm", "bonferroni", "bh", "none"] = "holm"
    confidence: float = Field(0.95, gt=0, lt=1)
    min_cav_accuracy: float = Field(0.7, ge=0, le=1)
    # Concept or random sets with fewer usable images than this are warned about, and the
    # report names the findings that rest on them.
    min_concept_images: int = Field(30, ge=2, le=100_000)
    # A concept folder sharing images (exact or near duplicates) with the scored class images or
    # a random set stops the tcav stage; true: score it anyway, with a warning.
    allow_overlap: bool = False
    # Where CAVs are fitted and what is kept between runs; none of these changes a result.
    backend: Literal["threads", "loky", "dask"] = "threads"
    n_jobs: int = Field(-1, ge=-1024, le=1024)
    scheduler: Optional[str] = None
    cache_dir: Optional[str] = ".cache/tcav"

    @field_validator("n_jobs")
    @classmethod
    def _nonzero_jobs(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must be a number of worker processes (1 = none, in the stage's process) or -1 for one per core, not 0")
        return value

    @model_validator(mode="after")
    def _dask_needs_scheduler(self) -> "TcavParams":
        if self.backend == "dask" and not self.scheduler:
            raise ValueError("backend 'dask' needs tcav.scheduler: the address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
        return self

    @field_validator("concepts")
    @classmethod
    def _concept_names(cls, values: list[str]) -> list[str]:
        return _check_names(values, "concept")

    @field_validator("bottlenecks")
    @classmethod
    def _distinct_bottlenecks(cls, values: list[str]) -> list[str]:
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"each bottleneck may be listed once; listed twice: {', '.join(twice)}")
        return values

    @field_validator("alphas")
    @classmethod
    def _positive_alphas(cls, values: list[float]) -> list[float]:
        if any(not v > 0 for v in values):
            raise ValueError(f"every alpha must be > 0, got {values}")
        return values


class InsertionParams(_Strict):
    """The concept insertion test (stage ``insertion``, ``tcavcore/insertion.py``)."""

    # What is pasted into the same region as the concept, to compare with (see README).
    control: Literal["blur", "elsewhere", "mean", "random"] = "elsewhere"
    # Side of the square region, as a share of the image side; where it goes.
    region: float = Field(0.3, gt=0, le=1)
    placement: Literal["random", "center"] = "random"
    # Seeded insertions per class image (regions and concept images drawn anew each time).
    draws: int = Field(4, ge=1, le=1000)
    # What the concept is pasted into: `class` images, `random`-set images (the class's cues
    # absent), or `both` (significant on both, the same way).
    carrier: Literal["class", "random", "both"] = "random"
    # How a concept (or random) image goes into the region: `scale` (the whole image shrunk
    # into it) or `crop` (a region-sized window at the image's own scale: patterns keep their size).
    fit: Literal["scale", "crop"] = "crop"
    # A confirmation also needs the concept's effect beyond what random content does: outside
    # the prediction interval (at tcav.confidence) of the held-out random sets' effects.
    random_check: bool = True
    # The scene test (tcavcore/scene.py): a soft blob of the concept on the background of the
    # class's own images against blobs of the random sets in the same places.
    scene: bool = True
    # Side of the blob's square, as a share of the image side (0.4: ~9% of the image), and
    # seeded blobs per class image.
    scene_region: float = Field(0.4, gt=0, lt=1)
    scene_draws: int = Field(4, ge=1, le=1000)
    # The object test (tcavcore/scene.py, where="object"): a blob of object_region of the side
    # on the most salient places of each class image, against the random sets' blobs there, with
    # scene_draws blobs per image. It can confirm a raise the scene test does not (a class's own
    # cue), when its whole interval lies beyond min_effect; it never contradicts.
    object: bool = True
    object_region: float = Field(0.7, gt=0, lt=1)
    # Smallest scene effect, in logits, that confirms or contradicts a finding: the size the
    # accuracy tables call a real effect.
    min_effect: float = Field(0.5, ge=0)


class TruthParams(_Strict):
    """The known truth of a synthetic run (stage ``truth``, ``worlds/truth.py``)."""

    # Counterfactual pairs per (class, concept).
    pairs: int = Field(60, ge=2, le=100_000)


class ViewsParams(_Strict):
    images_per_class: int = Field(2, ge=1, le=100)
    max_channels: int = Field(16, ge=1, le=1024)
    projection: Literal["pca", "tsne", "umap"] = "pca"
    projection_images: int = Field(40, ge=2, le=100_000)
    # The training-time projection: the train stage records this layer's activations for
    # epoch_images training images (seeded, spread evenly over the classes) every epoch.
    epoch_layer: str = Field("gap", pattern=r"^[A-Za-z0-9_]+$")
    epoch_images: int = Field(150, ge=3, le=1000)


#: ``model.input.preprocessing`` names: the keras.applications modules with a ``preprocess_input``.
KERAS_PREPROCESSING = (
    "convnext", "densenet", "efficientnet", "efficientnet_v2", "inception_resnet_v2", "inception_v3",
    "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50", "resnet_v2", "vgg16",
    "vgg19", "xception",
)
#: Where the model comes from: ``train`` (the built-in CNN, trained here) or a user's own model.
ModelSource = Literal["train", "keras", "savedmodel", "frozen"]
#: Where the train stage writes the built-in model; ``model.path`` for ``model.source: train``.
TRAINED_MODEL = "models/trained/model.keras"


class ModelInputParams(_Strict):
    """How a pipeline image (RGB in [0, 1], preprocess.image_size square) becomes the model's input."""

    # The model's input range: [0, 1] maps linearly onto [low, high] (e.g. [0, 255], [-1, 1]).
    value_range: list[float] = Field([0.0, 1.0], min_length=2, max_length=2)
    # Or a keras.applications preprocessing function by module name (e.g. mobilenet_v2), applied
    # to RGB values in [0, 255] as Keras documents.
    preprocessing: Optional[Literal[KERAS_PREPROCESSING]] = None  # type: ignore[valid-type]

    @field_validator("value_range", mode="before")
    @classmethod
    def _numbers(cls, value):
        if isinstance(value, list):
            return [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @model_validator(mode="after")
    def _one_recipe(self) -> "ModelInputParams":
        low, high = self.value_range
        if not low < high:
            raise ValueError(f"value_range must be [low, high] with low < high, got {self.value_range}")
        if self.preprocessing is not None and (low, high) != (0.0, 1.0):
            raise ValueError("give either value_range or preprocessing, not both "
                             f"(preprocessing {self.preprocessing!r} sets the range itself)")
        return self


class ModelParams(_Strict):
    """The model TCAV explains: the built-in CNN (``train``) or the user's own."""

    source: ModelSource = "train"
    # The model: a .keras/.h5 file (keras), a SavedModel folder (savedmodel) or a frozen GraphDef
    # .pb (frozen). With source train: where the train stage writes it (leave as is).
    path: str = Field(TRAINED_MODEL, min_length=1)
    # The model's class names in output order: a list, or a text file with one name a line;
    # null: `classes` in their order. `classes` are the ones scored: all or some of these.
    labels: Optional[list[str] | str] = None
    input: ModelInputParams = ModelInputParams()
    # Frozen graphs: tensor names of the image input and of the logits (or of the softmax output,
    # whose input is then taken); null: found in the graph.
    input_tensor: Optional[str] = None
    logits_tensor: Optional[str] = None
    # SavedModel: the serving signature to convert.
    signature: str = Field("serving_default", min_length=1)

    @model_validator(mode="after")
    def _path_fits_source(self) -> "ModelParams":
        if self.source == "train":
            if self.path != TRAINED_MODEL:
                raise ValueError(f"path {self.path!r} is only read with an outside model: with source 'train' the "
                                 f"train stage writes {TRAINED_MODEL}; set source to keras, savedmodel or frozen")
            if self.labels is not None or self.input_tensor or self.logits_tensor:
                raise ValueError("labels, input_tensor and logits_tensor describe an outside model; with source "
                                 "'train' the classes are `classes`")
            if self.input != ModelInputParams():
                raise ValueError("input describes an outside model's input; the built-in model takes [0, 1] images")
        else:
            if Path(self.path).as_posix() == TRAINED_MODEL or Path(self.path).as_posix().startswith("models/trained/"):
                raise ValueError(f"path: with source {self.source!r}, set path to your model "
                                 f"({TRAINED_MODEL} is where the train stage writes the built-in one)")
            if self.source == "keras" and (self.input_tensor or self.logits_tensor):
                raise ValueError("input_tensor and logits_tensor name tensors of a frozen graph or SavedModel; "
                                 "a Keras model's logits are found from its layers")
            if self.source == "savedmodel" and self.input_tensor:
                raise ValueError("input_tensor: a SavedModel's input is its signature's")
        if isinstance(self.labels, list):
            _check_names(self.labels, "model.labels")
        return self


class Params(_Strict):
    seed: int = Field(ge=0, le=2**31 - 1)
    classes: list[str] = Field(min_length=2)
    crawl: CrawlParams = CrawlParams()
    preprocess: PreprocessParams = PreprocessParams()
    train: TrainParams = TrainParams()
    tcav: TcavParams
    insertion: InsertionParams = InsertionParams()
    truth: TruthParams = TruthParams()
    views: ViewsParams = ViewsParams()
    model: ModelParams = ModelParams()

    @field_validator("classes")
    @classmethod
    def _class_names(cls, values: list[str]) -> list[str]:
        return _check_names(values, "class")

    @model_validator(mode="after")
    def _enough_random_sets(self) -> "Params":
        if self.tcav.num_random_exp > self.crawl.num_random_sets:
            raise ValueError(
                f"tcav.num_random_exp ({self.tcav.num_random_exp}) needs at least that many random sets, "
                f"but crawl.num_random_sets is {self.crawl.num_random_sets}"
            )
        if self.model.source == "train" and self.preprocess.split.train == 0:
            raise ValueError("preprocess.split.train is 0: the built-in model needs training images; only an "
                             "outside model (model.source keras, savedmodel or frozen) does without")
        if isinstance(self.model.labels, list):
            missing = [c for c in self.classes if c not in self.model.labels]
            if missing:
                raise ValueError(f"classes {missing} are not in model.labels {self.model.labels}")
        clash = sorted(set(self.classes) & set(self.tcav.concepts))
        if clash:
            raise ValueError(f"names used both as a class and as a concept: {clash}")
        clash = sorted(set(self.classes) & set(self.crawl.concepts))
        if clash:
            raise ValueError(f"names used both as a class and as a crawl concept: {clash}")
        known = {*self.classes, *self.crawl.concepts, RANDOM_KEY}
        for key in ("sources", "queries"):
            unknown = sorted(set(getattr(self.crawl, key)) - known)
            if unknown:
                raise ValueError(
                    f"crawl.{key}: {', '.join(map(repr, unknown))} is not a class, a concept of crawl.concepts "
                    f"or {RANDOM_KEY!r}; known names: {', '.join(sorted(known))}"
                )
        return self

    @property
    def random_sets(self) -> list[str]:
        """Random set names tcav compares against (the first ``tcav.num_random_exp``)."""
        return random_set_names(self.tcav.num_random_exp)


def _format_error(error: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid parameters"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        elif item["type"] == "missing":
            message = "required key is missing"
        got = item.get("input")
        shown = "" if item["type"] in ("missing",) or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Parse and validate the params file; raise :class:`PipelineError` naming each bad key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: parameters file not found") from None
    except yaml.YAMLError as error:
        raise PipelineError(f"{path}: not valid YAML: {error}") from None
    if raw is None:
        raise PipelineError(f"{path}: is empty; expected the pipeline's parameters (seed, classes, crawl, tcav, ...: "
                            "see the params.yaml of the repository)")
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: expected a mapping of keys to values at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise PipelineError(_format_error(error, path)) from None


@stage_main
def main(argv: list[str] | None = None) -> int:
    """``python -m common.params [params.yaml]``: check the parameters file before DVC reads it.

    DVC expands ``dvc.yaml``'s ``foreach: ${crawl.concepts}`` before any stage runs, so an empty
    file or ``crawl.concepts`` written as a string would otherwise get DVC's message about
    ``dvc.yaml``; this names the file and the key (``make run`` runs it first).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m common.params", description="Check a parameters file.")
    parser.add_argument("params", nargs="?", default="params.yaml", help="the parameters file (params.yaml)")
    args = parser.parse_args(argv)
    load_params(args.params)
    print(f"{args.params}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
