"""Image sources for the crawl stage: where class, concept and random images come from.

A source is a module in this package, registered in :data:`SOURCES` under the name used in
``crawl.source`` / ``crawl.sources``. It provides:

``check(requests: list[Request], params: Params) -> None``
    Validate every request before anything is fetched (raise :class:`PipelineError` naming
    what is wrong: an unknown name, a missing folder or URL list, a missing API key, ...).

``fill(request: Request, params: Params, collector) -> None``
    Offer candidate images to ``collector`` (:class:`collection.collector.Collector`,
    or a ``Dealer`` spreading one pool over the random sets) until ``collector.done`` or the
    source has no more: ``collector.offer(key, data, name=..., url=...)``, where ``key``
    identifies the candidate across runs. Skip keys for which ``collector.seen(key)`` is true
    (kept, rejected or excluded in an earlier run): that is what makes a rerun fetch only what
    is missing. Report downloads that failed with ``collector.fail(key, reason, url=...)``.

and optionally:

``origin(request, params) -> dict``
    What the kept images depend on besides source and query (default: nothing); a change
    makes them stale.
``TIMESTAMPS: bool``
    False for sources whose images are a pure function of the params (no fetch times in the
    manifest, so it is identical on every run). Default True.
``REGENERABLE: bool``
    True if the source can remake its images at any time: a folder of its images without a
    manifest (from an earlier version) is replaced rather than refused. Default False.
``pooled_random(params) -> bool``
    True if the random sets are dealt from one pool (one crawl of the ``random`` query, or one
    folder of diverse images) rather than filled one by one. Default False.

Adding a source means adding a module here, registering it in :data:`SOURCES`, and allowing
its name in ``common.params.SourceName``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from common.errors import PipelineError

#: What is being fetched: images of a class, of a concept, or a random counterexample set.
KINDS = ("class", "concept", "random")

#: Source name -> module implementing ``check`` and ``fill``.
SOURCES: dict[str, str] = {
    "synthetic": "collection.sources.synthetic",
    "local": "collection.sources.local",
    "bing": "collection.sources.search",
    "google": "collection.sources.search",
    "baidu": "collection.sources.search",
    "flickr": "collection.sources.flickr",
    "urls": "collection.sources.urls",
    "greedy": "collection.sources.greedy",
}

#: Sources that fetch over the network (their images carry a URL and a fetch time).
WEB_SOURCES = ("bing", "google", "baidu", "flickr", "urls", "greedy")


@dataclass(frozen=True)
class Request:
    """One folder to fill (or, for pooled random sets, one pool to deal from).

    ``name`` is the class / concept / random set name (also the folder name); ``query`` is the
    search text, URL list, page list or local subfolder (``crawl.queries.get(name, name)``);
    ``source`` the source name.
    """

    kind: str
    name: str
    query: str
    count: int
    out_dir: Path
    source: str = "synthetic"


def get_source(name: str) -> ModuleType:
    """The module implementing source ``name``; :class:`PipelineError` if there is none."""
    try:
        module_name = SOURCES[name]
    except KeyError:
        raise PipelineError(
            f"crawl.source: unknown source {name!r}; expected one of {', '.join(sorted(SOURCES))}"
        ) from None
    return importlib.import_module(module_name)
