"""index.yml's cleaning configuration on a small text: the scrape's quirks removed (issue #3)."""

from pathlib import Path

import yaml
from haystack import Document

REPO = Path(__file__).resolve().parents[3]


def _index_component(name: str):
    """A component exactly as pipelines/index/index.yml configures it."""
    from haystack.core.serialization import component_from_dict
    from haystack.utils.type_serialization import deserialize_type

    spec = yaml.safe_load((REPO / "pipelines/index/index.yml").read_text())["components"][name]
    return component_from_dict(deserialize_type(spec["type"]), spec, name)


def test_cleaner_removes_the_scrape_quirks():
    cleaner = _index_component("cleaner")
    raw = (
        "\n\nHeadline of the release \n\n Lead para\u00adgraph with a trailing space. \n\n"
        " Sorry, we are not allowed to show you this content due to your cookie settings. \n\n"
        " Second paragraph. See our products and services live. From 27th February we are in Hall 3.\n\n"
        "This media information contains forward-looking statements that reflect views. More words. "
        "Other companies may define these terms in different ways."
    )
    text = cleaner.run(documents=[Document(content=raw)])["documents"][0].content
    assert text.startswith("Headline of the release\n\nLead paragraph with a trailing space.")
    assert "cookie" not in text and "forward-looking" not in text and "Hall 3" not in text
    assert "\u00ad" not in text and " \n" not in text and "\n " not in text
    assert "Second paragraph." in text
