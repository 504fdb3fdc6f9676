"""A relative `host_curve` path is relative to the config file's folder, like every file setting.

`carbon_table` and `[bmc]`'s files were already resolved from the config file's folder;
`host_curve` was read from the working directory, so the same config worked from one
folder and not from another. A run id (no `.csv`, no such file) stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.settings.config import load_settings, use_config_file
from profiler.workflows.host_curve import resolve_host_curve

CURVE = "load,watts\n0,100\n0.5,200\n1,260\n"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINWATT_CONFIG", raising=False)
    yield
    use_config_file(None)


def _config(folder: Path, value: str) -> Path:
    folder.mkdir()
    config = folder / "config.toml"
    config.write_text(f'[defaults]\nhost_curve = "{value}"\nvm_share = 0.25\n')
    use_config_file(config)
    return config


def test_a_relative_curve_is_found_beside_the_config_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path / "etc", "curves/host.csv")
    (config.parent / "curves").mkdir()
    (config.parent / "curves" / "host.csv").write_text(CURVE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(tmp_path / "f.db")
    assert settings.host_curve == str(config.parent / "curves" / "host.csv")
    curve = resolve_host_curve(settings)
    assert curve is not None and curve.power_w(1.0) == pytest.approx(260.0)


def test_a_run_id_stays_a_run_id(tmp_path: Path) -> None:
    _config(tmp_path / "etc", "20261101T000000-host")
    assert load_settings(tmp_path / "f.db").host_curve == "20261101T000000-host"
