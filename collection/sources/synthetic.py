"""The ``synthetic`` source: fills class, concept and random folders from the built-in worlds
(:mod:`worlds`), offline."""

from __future__ import annotations

import io

from worlds.generate import check_name, draw, file_name

# --------------------------------------------------------------------------- source interface


#: Images are a pure function of the params: no fetch times in the manifest, and a folder
#: of them can always be regenerated (so one without a manifest is simply replaced).
TIMESTAMPS = False
REGENERABLE = True


def origin(request, params) -> dict:
    """The kept images depend on the seed, the image size and (when not the default) the world."""
    found = {"seed": params.seed, "size": params.crawl.synthetic_size}
    if params.crawl.synthetic_task != "colour":  # default manifests stay as they were
        found["task"] = params.crawl.synthetic_task
    return found


def check(requests, params) -> None:
    """Fail early, before anything is written, on a name the synthetic source cannot make."""
    for request in requests:
        check_name(request.kind, request.name, params.crawl.synthetic_task)


def fill(request, params, collector) -> None:
    """Offer generated PNGs ``0000.png``, ``0001.png``, ... until the folder is full.

    Images excluded or found duplicate are replaced by the next indices. ``request.query``
    is ignored: the synthetic images are defined by the name.
    """
    limit = 2 * request.count + 16
    for index in range(limit):
        if collector.done:
            return
        fname = file_name(index, request.count)
        if collector.seen(fname):
            continue
        image, _ = draw(request.kind, request.name, index, params.crawl.synthetic_size, params.seed,
                        params.crawl.synthetic_task)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        collector.offer(fname, buffer.getvalue(), name=fname)
