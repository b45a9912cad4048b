"""Image sources for the crawl stage: where class, concept and random images come from.

A source is a module in this package, registered in :data:`SOURCES` under the name used in
``crawl.source``. It provides two functions:

``check(requests: list[Request], params: Params) -> None``
    Validate every request before anything is written (raise :class:`PipelineError` naming
    what is wrong: an unknown name, a missing folder, ...).

``fill(request: Request, params: Params) -> Iterator[Path]``
    Write up to ``request.count`` images into ``request.out_dir`` (which exists and is empty),
    yielding the path of each file as it is written (the crawl stage counts them for its
    progress bar). Fewer than requested is allowed; fewer than 2 is an error.

Adding a source (e.g. an icrawler engine) means adding a module here, registering it in
:data:`SOURCES`, and allowing its name in ``CrawlParams.source``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pipeline.errors import PipelineError

#: What is being fetched: images of a class, of a concept, or a random counterexample set.
KINDS = ("class", "concept", "random")

#: Source name (``crawl.source``) -> module implementing ``check`` and ``fill``.
SOURCES: dict[str, str] = {
    "synthetic": "pipeline.sources.synthetic",
    "local": "pipeline.sources.local",
}


@dataclass(frozen=True)
class Request:
    """One folder to fill.

    ``name`` is the class / concept / random set name (also the folder name); ``query`` is the
    search text for crawler sources (``crawl.queries.get(name, name)``).
    """

    kind: str
    name: str
    query: str
    count: int
    out_dir: Path


def get_source(name: str) -> ModuleType:
    """The module implementing source ``name``; :class:`PipelineError` if there is none."""
    try:
        module_name = SOURCES[name]
    except KeyError:
        raise PipelineError(
            f"crawl.source: unknown source {name!r}; expected one of {', '.join(sorted(SOURCES))}"
        ) from None
    return importlib.import_module(module_name)
