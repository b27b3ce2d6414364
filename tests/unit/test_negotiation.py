import pytest

from farm.errors import NotAcceptable
from farm.index.negotiation import HTML_V1, JSON_V1, TEXT_HTML, negotiate

MICROPIP = "application/vnd.pypi.simple.v1+json, */*;q=0.01"
PIP = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, TEXT_HTML),
        ("", TEXT_HTML),
        ("*/*", TEXT_HTML),
        ("text/html", TEXT_HTML),
        ("text/*", TEXT_HTML),
        (MICROPIP, JSON_V1),
        (PIP, JSON_V1),
        ("application/vnd.pypi.simple.v1+html", HTML_V1),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        ("application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.9", TEXT_HTML),
        ("application/vnd.pypi.simple.v1+json;q=0, */*", TEXT_HTML),
        ("application/*", JSON_V1),
    ],
)
def test_negotiate(accept: str | None, expected: str) -> None:
    assert negotiate(accept).media_type == expected


@pytest.mark.parametrize(
    "accept", ["application/xml", "image/png, text/plain", "application/vnd.pypi.simple.v1+json;q=0"]
)
def test_nothing_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable, match="acceptable"):
        negotiate(accept)


@pytest.mark.parametrize(
    ("override", "expected"),
    [("json", JSON_V1), ("html", TEXT_HTML), (JSON_V1, JSON_V1), (HTML_V1, HTML_V1), (TEXT_HTML, TEXT_HTML)],
)
def test_format_override_wins_over_accept(override: str, expected: str) -> None:
    assert negotiate("application/xml", override).media_type == expected


def test_unknown_format_override() -> None:
    with pytest.raises(NotAcceptable, match="format='xml'"):
        negotiate(None, "xml")


def test_content_type_of_plain_html_has_charset() -> None:
    assert negotiate("text/html").content_type == "text/html; charset=utf-8"
    assert negotiate(MICROPIP).content_type == JSON_V1
