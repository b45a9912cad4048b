"""The synthetic worlds: scenes with a known answer, and counterfactual pairs of them."""
