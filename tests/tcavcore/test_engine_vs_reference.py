"""The tcav stage's engine (:func:`tcavcore.engine.run_tcav`) gives exactly the reference
``tcav.tcav.TCAV.run`` scores.

Both run on the same frozen model (through the same wrapper) and the same image folders;
the CAVs are fitted once by ``run_tcav`` and saved in tcav's format, which ``TCAV.run``
loads instead of refitting, so every (class, concept, random set, bottleneck) score can be
compared one to one.
"""

import numpy as np
import pytest

import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)
from tcavcore.engine import run_tcav
from model.freeze import export_model
from images.loading import load_folder
from model.cnn import bottleneck_layer_names, build_cnn
from worlds.generate import generate

SIZE = 16
CLASSES = ["fire", "water"]
CONCEPTS = ["red", "striped"]
RANDOMS = ["random500_0", "random500_1", "random500_2"]
BOTTLENECKS = ["pool1", "conv2"]
ALPHA = 0.1


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp("reference")
    source = root / "source"
    for kind, names, count in (("class", CLASSES, 8), ("concept", CONCEPTS, 10), ("random", RANDOMS, 10)):
        for name in names:
            (source / name).mkdir(parents=True)
            for file_name, image in generate(kind, name, count, size=32, seed=3):
                image.save(source / name / file_name)
    keras.utils.set_random_seed(0)
    model = build_cnn(SIZE, len(CLASSES), [4, 8], 8, 0.0)
    check = np.random.default_rng(0).random((4, SIZE, SIZE, 3), dtype=np.float32)
    export_model(model, CLASSES, bottleneck_layer_names([4, 8], 8), root / "frozen", check)
    return root, source


def test_every_score_equals_the_reference(setup):
    from tcav.activation_generator import ImageActivationGenerator
    from tcav.tcav import TCAV

    from wrappers import FrozenGraphWrapper

    root, source = setup
    wrapper = FrozenGraphWrapper(root / "frozen", BOTTLENECKS)
    images = {name: load_folder(source / name, SIZE, 100)[0] for name in CLASSES + CONCEPTS + RANDOMS}
    rows = run_tcav(wrapper, {n: images[n] for n in CLASSES}, {n: images[n] for n in CONCEPTS},
                    {n: images[n] for n in RANDOMS}, BOTTLENECKS, [ALPHA], model_type="linear", definition="tcav",
                    seed=11, progress=False, cav_dir=str(root / "cavs"))
    ours = {(r["target"], r["concept"], r["random"], r["bottleneck"]): r["score"] for r in rows}

    reference = {}
    for target in CLASSES:
        generator = ImageActivationGenerator(wrapper, str(source), str(root / "acts"), max_examples=100)
        tcav = TCAV(wrapper.sess, target, CONCEPTS, BOTTLENECKS, generator, [ALPHA], cav_dir=str(root / "cavs"),
                    num_random_exp=len(RANDOMS))
        for result in tcav.run(run_parallel=False):
            key = (target, result["cav_concept"], result["negative_concept"], result["bottleneck"])
            reference[key] = result["i_up"]

    # 2 classes x (2 concepts x 3 random sets + 3 x 2 random pairs) x 2 bottlenecks
    assert len(reference) == 2 * (6 + 6) * 2
    assert set(reference) == set(ours)
    mismatched = {key: (ours[key], reference[key]) for key in ours if ours[key] != reference[key]}
    assert not mismatched
    # the comparison is not vacuous: scores vary across CAVs
    assert len(set(ours.values())) > 2
