"""Stage ``concept_digest``: fingerprint the concept folders and random sets the run reads.

    python -m pipeline.concept_digest --params P --concepts DIR --out FILE.json

Runs whenever anything under ``concepts/`` changes (it is cheap: file hashes), but writes the
same bytes unless a folder ``tcav.concepts`` names, or a random set used, changed; the stages
that read concepts depend on its output, so an unlisted folder reruns nothing expensive
(:mod:`images.concept_digest`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common.errors import stage_main
from common.files import atomic_write_json
from common.params import load_params
from images.concept_digest import concept_digest

log = logging.getLogger(__name__)


@stage_main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.concept_digest", description=__doc__)
    parser.add_argument("--params", required=True, help="parameters file")
    parser.add_argument("--concepts", required=True, help="concept folders (and random/)")
    parser.add_argument("--out", required=True, help="digest JSON to write")
    args = parser.parse_args(argv)
    digest = concept_digest(load_params(args.params), Path(args.concepts))
    atomic_write_json(args.out, digest)
    log.info("concept_digest: %d concepts, %d random sets, %d images", len(digest["concepts"]), len(digest["random"]),
             sum(len(files) for group in digest.values() for files in group.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
