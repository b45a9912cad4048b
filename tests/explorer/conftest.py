"""A tiny run (built once per session) and an explorer server on it, on an ephemeral loopback port."""

from __future__ import annotations

import threading

import pytest

from tests.explorer.tiny_run import make_explorer_run


@pytest.fixture(scope="session")
def explorer_run(tmp_path_factory):
    return make_explorer_run(tmp_path_factory.mktemp("explorer") / "run")


def open_session(root, cavs="results/cavs.npz"):
    from common.params import load_params
    from explorer.session import ExplorerSession

    return ExplorerSession(load_params(root / "params.yaml"), root / "models" / "frozen", root / cavs,
                           root / "datasets" / "processed", root / "results" / "scores.csv")


@pytest.fixture(scope="session")
def explorer_session(explorer_run):
    return open_session(explorer_run)


def start_server(session, **kwargs):
    """An :class:`ExplorerServer` serving in a daemon thread; call ``.shutdown()`` when done."""
    from explorer.server import ExplorerServer

    server = ExplorerServer(session, "127.0.0.1", 0, **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def explorer_server(explorer_session):
    server = start_server(explorer_session)
    yield server
    server.shutdown()
    server.server_close()
