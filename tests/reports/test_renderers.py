"""The renderer interface: each report kind is a `Renderer` with `render(record) -> str`."""

from __future__ import annotations

from typing import Any

import pytest

from profiler.model.savings import Site
from reports.i18n import LanguageError
from reports.renderers.base import Renderer
from reports.renderers.fleet import FleetRenderer, FleetReport
from reports.renderers.run import RunRenderer
from reports.renderers.window import WindowRenderer
from tests.reports import samples

RENDERERS: list[type[Renderer[Any]]] = [RunRenderer, WindowRenderer, FleetRenderer]


def _fleet(source: str) -> FleetReport:
    return FleetReport(source, samples.fleet_document(), samples.SITE.assumptions())


@pytest.mark.parametrize("kind", RENDERERS, ids=lambda k: k.__name__)
def test_each_kind_is_a_renderer_with_html_metadata(kind: type[Renderer[Any]]) -> None:
    assert issubclass(kind, Renderer)
    assert (kind.output_file_extension, kind.output_media_type) == ("html", "text/html")
    assert kind.template.endswith(".html")
    assert kind.render is not Renderer.render


def test_a_renderer_without_render_cannot_be_made() -> None:
    class Unfinished(Renderer[str]):
        template = "fleet.html"

    with pytest.raises(TypeError, match="abstract"):
        Unfinished()  # type: ignore[abstract]


def test_options_are_given_when_the_renderer_is_made() -> None:
    default = FleetRenderer()
    assert default.site == Site() and default.text.tag == "en"
    chinese = FleetRenderer(site=samples.SITE, lang="zh-CN")
    assert chinese.site is samples.SITE and chinese.text.tag == "zh-CN"
    page = chinese.render(_fleet("http://127.0.0.1:9090"))
    assert '<html lang="zh-CN">' in page
    with pytest.raises(LanguageError, match="--lang 'fr'"):
        FleetRenderer(lang="fr")


def test_a_renderer_keeps_nothing_of_one_record_for_the_next() -> None:
    renderer = FleetRenderer(site=samples.SITE)
    first = renderer.render(_fleet("http://first:9090"))
    second = renderer.render(_fleet("http://second:9090"))
    assert "http://first:9090" in first and "http://first:9090" not in second
    assert renderer.render(_fleet("http://first:9090")) == first
