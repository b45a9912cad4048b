"""One error type for everything a user can fix, and the wrapper that prints it cleanly."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Callable


class PipelineError(Exception):
    """A problem with the user's input (params, folders, images, model) that they can fix.

    The message must name the file, folder, key or value at fault and say what was expected.
    """


def stage_main(main: Callable[..., int | None]) -> Callable[..., int]:
    """Decorate a stage's ``main`` so user errors print one clear line and exit with status 2.

    Anything else is a bug in this project and keeps its traceback.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)
        try:
            return main(*args, **kwargs) or 0
        except PipelineError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: nothing half-written was left behind", file=sys.stderr)
            return 130

    return wrapper
