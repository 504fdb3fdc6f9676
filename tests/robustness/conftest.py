"""Fixtures of the robustness suite (defined in `tests.robustness.contract`)."""

from tests.robustness.contract import home, http_server

__all__ = ["home", "http_server"]
