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


def test_file_urls_are_joined_as_urljoin_joins_them() -> None:
    """The JSON page's shortcut for joining thousands of file URLs (``file_url``) gives urljoin's answer for any
    href: a table of shapes, then random ones."""
    import random
    from urllib.parse import urljoin

    from farm.mirror.upstream import file_url

    bases = [
        "https://up.example/simple/demo/",
        "http://127.0.0.1:8080/simple/demo",
        "https://up.example/a/b/c/?q=1#f",
        "https://up.example/",
        "http://h",
        "file:///x/y/",
    ]
    hrefs = [
        "../../files/demo-1.0-py3-none-any.whl",
        "https://files.example/packages/ab/cd/demo-1.0.tar.gz",
        "http://files.example/x.whl",
        "//cdn.example/x.whl",
        "/files/x.whl",
        "x.whl",
        "./x.whl",
        "../x.whl",
        "files/..",
        "files/.",
        "files/",
        "files/x.whl?token=1",
        "files/x.whl#sha256=00",
        "files/x.whl;params",
        " files/x.whl",
        "files/x\tz.whl",
        "files/%2e%2e/x.whl",
        "a/b/../../../../x.whl",
        "HTTPS://Files.Example/x.whl",
        "mailto:x@example/y.whl",
        "",
    ]
    alphabet = "ab./?#;:@%~ \t"
    generator = random.Random(15)
    shapes = ["", "", "/", "https://h/", "http://h:1/a/", "//h/", "../", "https://", "http:///", "./"]
    hrefs += [
        generator.choice(shapes) + "".join(generator.choices(alphabet, k=generator.randint(0, 12)))
        for _ in range(4000)
    ]
    for base in bases:
        joined: dict[str, str] = {}
        for href in hrefs:
            assert file_url(base, href, joined) == urljoin(base, href), (base, href)
