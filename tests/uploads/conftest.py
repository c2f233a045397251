"""Fixtures for the upload tests: live ``fieldbook serve`` processes on SQLite.

Most tests share one server; a test that kills it or needs other settings (a tiny upload
expiry, S3 storage) starts its own. Every server and its data folder are removed at the end,
whatever happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.uploads.live_uploads import Researcher, UploadServer, upload_server

StartServer = Callable[..., UploadServer]


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UploadServer]:
    """Yield a server that upload tests share; each works in visits of its own."""
    with upload_server(tmp_path_factory.mktemp("uploads-shared")) as server:
        yield server


@pytest.fixture
def researcher(shared_server: UploadServer) -> Researcher:
    """The researcher's phone on the shared server."""
    return shared_server.researcher


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Start servers of this test's own, with ``FIELDBOOK_*`` settings given as keywords."""
    with ExitStack() as stack:

        def start(**settings: str) -> UploadServer:
            data_dir = tmp_path_factory.mktemp("uploads-own")
            return stack.enter_context(upload_server(data_dir, **settings))

        yield start
