"""The Redfish mockup service as fixtures: one PKI a module, one service a test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.profiler.sensors.bmc.redfish_harness import (
    ENV,
    PASSWORD,
    MockupService,
    Pki,
    make_pki,
    redfish_service,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and server certificate, made once a test module."""
    return make_pki(tmp_path_factory.mktemp("redfish-pki"))


@pytest.fixture
def service(tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockupService]:
    """A running mockup service whose password `config_for` reads from `ENV`."""
    monkeypatch.setenv(ENV, PASSWORD)
    with redfish_service(tmp_path, pki) as running:
        yield running
