import json

from farm.mirror.upstream import iter_requirement_lines, parse_html_page, parse_json_page

SHA = "ab" * 32
META = "cd" * 32


def test_json_page() -> None:
    body = json.dumps(
        {
            "meta": {"api-version": "1.1"},
            "name": "Demo",
            "files": [
                {
                    "filename": "demo-1.0-py3-none-any.whl",
                    "url": "../../files/demo-1.0-py3-none-any.whl",
                    "hashes": {"sha256": SHA},
                    "requires-python": ">=3.10",
                    "core-metadata": {"sha256": META},
                    "yanked": "bad build",
                },
                {"filename": "demo-1.0.tar.gz", "url": "https://files.example/demo-1.0.tar.gz", "hashes": {}},
            ],
        }
    ).encode()
    page = parse_json_page("Demo", "https://up.example/simple/demo/", body)
    wheel, sdist = page.files
    assert page.name == "demo"
    assert wheel.url == "https://up.example/files/demo-1.0-py3-none-any.whl"
    assert (wheel.sha256, wheel.metadata_sha256, wheel.has_metadata) == (SHA, META, True)
    assert (wheel.yanked, wheel.yanked_reason, wheel.requires_python) == (True, "bad build", ">=3.10")
    assert (sdist.sha256, sdist.has_metadata, sdist.yanked) == (None, False, False)


def test_html_page_gives_the_same_model() -> None:
    body = f"""<html><body>
    <a href="../../files/demo-1.0-py3-none-any.whl#sha256={SHA}" data-requires-python="&gt;=3.10"
       data-core-metadata="sha256={META}" data-yanked="bad build">demo-1.0-py3-none-any.whl</a>
    <a href="https://files.example/demo-1.0.tar.gz">demo-1.0.tar.gz</a>
    <a href="x.whl#md5=00" data-yanked="">x-1-py3-none-any.whl</a>
    </body></html>""".encode()
    page = parse_html_page("demo", "https://up.example/simple/demo/", body)
    wheel, sdist, other = page.files
    assert wheel.url == "https://up.example/files/demo-1.0-py3-none-any.whl"
    assert (wheel.sha256, wheel.metadata_sha256, wheel.has_metadata) == (SHA, META, True)
    assert (wheel.yanked, wheel.yanked_reason, wheel.requires_python) == (True, "bad build", ">=3.10")
    assert (sdist.sha256, sdist.yanked) == (None, False)
    assert (other.sha256, other.yanked, other.yanked_reason) == (None, True, None)


def test_requirement_lines() -> None:
    text = "# comment\nattrs>=22  # why\n\nmsgpack \\\n  >=1.0\n  # indented comment\n"
    assert list(iter_requirement_lines(text)) == [(2, "attrs>=22"), (4, "msgpack  >=1.0")]
