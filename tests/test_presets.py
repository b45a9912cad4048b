"""Preset params files parse and crawl what they say (they cannot be run here: no network)."""

from pathlib import Path

from collection import crawl as crawling
from common.params import load_params
from collection.sources import WEB_SOURCES, get_source

PRESETS = Path(__file__).resolve().parents[1] / "presets"


def test_seed_experiment_preset_crawls_three_families_six_colours_and_random_images(tmp_path):
    params = load_params(PRESETS / "pokemon_starters.yaml")
    assert params.classes == ["scorbunny", "sobble", "grookey"]
    assert params.crawl.concepts == ["red", "blue", "green", "yellow", "white", "black"]
    assert set(params.tcav.concepts) == set(params.crawl.concepts)
    assert params.tcav.num_random_exp <= params.crawl.num_random_sets
    requests = (
        crawling.plan("classes", params, tmp_path)
        + [r for c in params.crawl.concepts for r in crawling.plan("concept", params, tmp_path / c, c)]
    )
    assert [(r.name, r.query) for r in requests[:3]] == [("scorbunny", "Scorbunny"), ("sobble", "Sobble"), ("grookey", "Grookey")]
    assert all(r.source in WEB_SOURCES and r.query != r.name for r in requests)
    randoms = crawling.plan("random", params, tmp_path / "random")
    pool = crawling.pool_request(params, randoms, tmp_path / "random")
    assert get_source(pool.source).pooled_random(params) and pool.query == "photo"
    assert pool.count == params.crawl.num_random_sets * params.crawl.images_per_concept
    for source in {r.source for r in requests + [pool]}:
        get_source(source).check([r for r in requests + [pool] if r.source == source], params)  # no network needed


def test_own_model_preset_analyses_a_mobilenet_v2_at_its_input_size_without_training():
    params = load_params(PRESETS / "own_model_mobilenet_v2.yaml")
    assert params.model.source == "keras" and params.model.path == "models/examples/mobilenet_v2.keras"
    assert params.model.input.preprocessing == "mobilenet_v2" and params.preprocess.image_size == 224
    assert params.preprocess.split.train == 0 and params.model.labels == params.classes
    assert params.tcav.bottlenecks == ["block_6_expand_relu", "block_13_expand_relu", "out_relu"]


def test_texture_world_preset_is_the_default_params_but_for_the_world_and_its_training():
    import yaml

    def flat(tree, prefix=""):
        out = {}
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    default = flat(yaml.safe_load((PRESETS.parent / "params.yaml").read_text()))
    texture = flat(yaml.safe_load((PRESETS / "texture_world.yaml").read_text()))
    assert set(texture) == set(default), "the preset must carry every key params.yaml has"
    differing = {key for key in default if default[key] != texture[key]}
    # the world, and the training a texture-decided class needs (README "Can a finding be trusted?")
    assert differing == {"classes", "crawl.synthetic_task", "crawl.concepts", "tcav.concepts", "train.epochs",
                         "train.batch_norm", "train.augment", "train.lr_schedule"}
    assert texture["train.batch_norm"] and texture["train.augment"] and texture["train.lr_schedule"] == "cosine"
    params = load_params(PRESETS / "texture_world.yaml")
    assert params.crawl.synthetic_task == "texture" and "checkered" in params.tcav.concepts
