"""The parameters as the report shows them: params.yaml's values, without its comments."""

from __future__ import annotations

from pathlib import Path

import yaml


def params_values_text(path: Path) -> str:
    """``path``'s values as YAML, in the file's order, with its comments left out.

    The report stage depends on params.yaml by value (DVC's ``params``), so it reruns when a
    value changes but not when a comment does. Showing the raw text would make the report,
    and the dvc.lock that hashes it, differ after a comment edit that reran nothing.
    """
    return yaml.safe_dump(yaml.safe_load(path.read_text(encoding="utf-8")), sort_keys=False,
                          default_flow_style=False, allow_unicode=True)
