"""tcavcore.engine: which CAVs a run learns (the reference tcav pairing)."""


import common  # noqa: F401  (sets the TensorFlow/protobuf environment first)


from tcavcore.engine import CavPlan


def test_plan_pairs_match_tcav_reference_pairing():
    plan = CavPlan(("red", "blue"), ("random500_0", "random500_1", "random500_2"))
    assert plan.concept_pairs() == [("red", "random500_0"), ("red", "random500_1"), ("red", "random500_2"),
                                    ("blue", "random500_0"), ("blue", "random500_1"), ("blue", "random500_2")]
    randoms = plan.random_pairs()
    assert len(randoms) == 6 and len(set(randoms)) == 6
    assert all(a != b for a, b in randoms)
