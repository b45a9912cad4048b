"""The report's parameters section: values only, so a comment edit changes no output."""

import yaml

from reporting.params_text import params_values_text


def test_a_comment_edit_leaves_the_text_unchanged_and_a_value_edit_does_not(tmp_path):
    first, second, third = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml"
    first.write_text("# seeds\nseed: 42\ntcav:\n  concepts: [red, striped]  # two\n", encoding="utf-8")
    second.write_text("seed: 42   # another comment\n\ntcav:\n  # reflowed\n  concepts:\n  - red\n  - striped\n",
                      encoding="utf-8")
    third.write_text("seed: 7\ntcav:\n  concepts: [red, striped]\n", encoding="utf-8")
    assert params_values_text(first) == params_values_text(second)
    assert params_values_text(first) != params_values_text(third)
    assert "#" not in params_values_text(first)


def test_the_values_keep_the_file_order_and_read_back_equal(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("tcav:\n  bottlenecks: [pool1, conv3]\nseed: 42\nname: feuer\u00e9\n", encoding="utf-8")
    text = params_values_text(path)
    assert text.index("tcav") < text.index("seed") and "feuer\u00e9" in text
    assert yaml.safe_load(text) == yaml.safe_load(path.read_text(encoding="utf-8"))
