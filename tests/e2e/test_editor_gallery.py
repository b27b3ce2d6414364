"""Zip export and import of a project, the examples gallery, keyboard shortcuts and their help overlay, in Debian's
Chromium on a real server (gallery_scenarios.mjs: one browser, one page). Hostile archives are made here with
Python's zipfile, one of them a zip bomb whose headers lie about its size."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CACHE
from tests.e2e.conftest import Mirror
from tests.support.scenarios import run_scenarios, scenario

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SCENARIOS = Path(__file__).parent / "browser" / "gallery_scenarios.mjs"
EXAMPLES = Path(__file__).parents[2] / "runner_assets" / "web" / "examples"
BOMB_BYTES = 64 * 2**20  # inflates to 64 MB, far over the 5 MB a project may unpack to
MAIN = 'print("hostile")\n'


def archive(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, (2026, 12, 3, 0, 0, 0)), data, compression)
    return buffer.getvalue()


def lying_bomb() -> bytes:
    """A deflated file of BOMB_BYTES zeros whose local and central headers both say it unpacks to 100 bytes."""
    data = bytearray(archive({"main.py": MAIN.encode(), "data.txt": bytes(BOMB_BYTES)}))
    at = 0
    while (at := data.find(b"PK\x03\x04", at)) >= 0:  # local headers: uncompressed size at +22
        if data[at + 30 : at + 38] == b"data.txt":
            struct.pack_into("<I", data, at + 22, 100)
        at += 4
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:  # central directory: uncompressed size at +24
        if data[at + 46 : at + 54] == b"data.txt":
            struct.pack_into("<I", data, at + 24, 100)
        at += 4
    return bytes(data)


def hostile_zips() -> dict[str, bytes]:
    return {
        "dotdot": archive({"main.py": MAIN.encode(), "../evil.py": b"print('escaped')\n"}),
        "absolute": archive({"main.py": MAIN.encode(), "/etc/evil.py": b"x = 1\n"}),
        "bomb": lying_bomb(),
        "tooMany": archive({f"m{i}.py": b"" for i in range(201)} | {"main.py": MAIN.encode()}),
        "notUtf8": archive({"main.py": "print('é')\n".encode("latin-1")}),
        "noMain": archive({"a.py": b"", "b.py": b""}),
        "notZip": b"this is not a zip archive at all\n" * 40,
        "huge": archive({"main.py": MAIN.encode(), "big.txt": bytes(11 * 2**20)}, zipfile.ZIP_STORED),
        "foreign": archive(
            {"proj/": b"", "proj/main.py": b"print('foreign')\n", "proj/requirements.txt": b"greet\n"}
        ),
    }


@pytest.fixture(scope="module")
def found(mirror_server: Mirror, node: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    axe = CACHE / "node" / "node_modules" / "axe-core" / "axe.min.js"
    assert axe.is_file(), "axe-core is missing: `bash ci/test-assets.sh` installs it beside playwright-core"
    base = tmp_path_factory.mktemp("gallery")  # the scenarios' screenshots are left here too
    zips = {}
    for label, data in hostile_zips().items():
        zips[label] = str(base / f"{label}.zip")
        Path(zips[label]).write_bytes(data)
    settings = {
        "playwright": str(CACHE / "node" / "node_modules" / "playwright-core"),
        "axe": str(axe),
        "url": mirror_server.url,
        "zips": zips,
        "artifacts": str(base),
    }
    # the findings beside the screenshots, for a failure's post-mortem
    return run_scenarios(node, SCENARIOS, settings, base / "config.json", 900, keep=base / "found.json")


def test_export_writes_the_files_and_a_manifest_and_import_makes_a_new_project(found: dict) -> None:
    done = scenario(found, "exportImport")
    exported = done["exported"]
    assert set(exported["files"]) == {"main.py", "lib/helper.py"} and exported["requirements"] == "msgpack\n"
    assert done["filename"] == "zip-me.zip"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(done["zip"]))) as zf:
        assert sorted(zf.namelist()) == ["lib/helper.py", "main.py", "wasmfarm.json"]
        assert zf.read("lib/helper.py").decode() == exported["files"]["lib/helper.py"]
        assert zf.read("main.py").decode() == exported["files"]["main.py"]
        manifest = json.loads(zf.read("wasmfarm.json"))
    assert manifest["name"] == "zip me" and manifest["main"] == "main.py"
    assert manifest["requirements"] == "msgpack\n" and manifest["runtime"]
    assert done["imported"] == exported  # same files, main file and requirements
    assert sorted(done["after"]) == sorted([*done["before"], "zip me (imported)"])
    assert done["selected"] == "zip me (imported)"  # a new project, opened; the original is still listed
    assert done["before"].count("zip me") == 1 and done["after"].count("zip me") == 1
    assert "Imported" in done["importNote"]["text"] and not done["importNote"]["error"]
    assert done["importNote"]["role"] == "status"


@pytest.mark.parametrize(
    ("label", "said"),
    [
        ("dotdot", 'its path "../evil.py" is not a plain relative file name'),
        ("absolute", 'its path "/etc/evil.py" is not a plain relative file name'),
        ("bomb", "its files unpack to more than 5 MB"),
        ("tooMany", "it holds more than 200 files"),
        ("notUtf8", 'its file "main.py" is not UTF-8 text'),
        ("noMain", "it has no main file"),
        ("notZip", "it holds no files"),
        ("huge", "it is 11 MB, more than the 10 MB allowed"),
    ],
)
def test_a_hostile_zip_is_refused_with_a_message_and_nothing_changes(
    found: dict, label: str, said: str
) -> None:
    refused = scenario(found, "hostile")[label]
    assert refused["note"]["error"] is True, refused
    assert refused["note"]["text"].startswith("This zip was not imported: "), refused
    assert said in refused["note"]["text"], refused
    assert refused["note"]["text"].endswith("Your projects are unchanged.")
    assert refused["unchanged"] is True, refused  # project list, open project, its files and code


def test_a_zip_of_a_folder_made_by_another_tool_is_imported(found: dict) -> None:
    foreign = scenario(found, "foreign")
    assert foreign["program"] == {
        "files": {"main.py": "print('foreign')\n"},
        "main": "main.py",
        "requirements": "greet\n",
    }
    assert foreign["selected"] == "foreign"  # named after the file when it carries no manifest


def test_the_gallery_lists_the_shipped_examples_in_an_accessible_dialog(found: dict) -> None:
    gallery = scenario(found, "gallery")
    shipped = [e["id"] for e in json.loads((EXAMPLES / "index.json").read_text())["examples"]]
    assert gallery["listed"] == {"heading": "Examples", "modal": True, "examples": shipped}
    assert gallery["axeOpen"] == [] and gallery["closed"] is None


def example_opened(opened: dict, example_id: str) -> None:
    example = next(
        e for e in json.loads((EXAMPLES / "index.json").read_text())["examples"] if e["id"] == example_id
    )
    files = {name: (EXAMPLES / example_id / name).read_text() for name in example["files"]}
    assert opened["program"] == {
        "files": files,
        "main": example["main"],
        "requirements": example["requirements"],
    }
    assert opened["selected"] == example["title"] and len(opened["after"]) == len(opened["before"]) + 1
    assert opened["dialog"] is None and example["title"] in opened["note"]["text"]


def test_the_table_example_opens_as_a_new_project_and_runs_from_the_keyboard(found: dict) -> None:
    table = scenario(found, "table")
    example_opened(table["opened"], "rich-table")
    ran = table["ran"]
    assert ran["bodyFocused"] is True  # Ctrl+Enter pressed with the focus outside the editor
    assert ran["status"].startswith("done"), ran
    assert "8 planets; the largest is Jupiter, with 95 moons" in ran["output"]
    assert table["caption"] == "The planets, largest first" and table["rows"] == 8
    assert table["firstRow"].split("\t")[:2] == ["Jupiter", "142,984"]


def msgpack_size(n: int) -> int:
    """Bytes of list(range(n)) in msgpack: an array header, then each int in the smallest encoding for it."""
    header = 1 if n < 16 else 3 if n < 2**16 else 5
    return header + sum(1 if i < 128 else 2 if i < 256 else 3 if i < 2**16 else 5 for i in range(n))


def test_the_plot_example_runs_a_farm_built_package_and_draws_its_chart(found: dict) -> None:
    plot = scenario(found, "plot")
    example_opened(plot["opened"], "msgpack-plot")
    ran = plot["ran"]
    assert ran["bodyFocused"] is True and ran["status"].startswith("done"), ran
    assert "msgpack 1.2.4" in ran["output"]
    for n in (10, 1_000, 100_000):  # computed in Pyodide, checked against msgpack's format here
        packed, as_json = msgpack_size(n) / n, len(json.dumps(list(range(n)), separators=(",", ":"))) / n
        assert f"{n:>7} numbers: msgpack {packed:.2f} bytes each, JSON {as_json:.2f}" in ran["output"]
    assert plot["svg"] == "Bytes per number: msgpack and JSON" and plot["lines"] == 2


def test_the_app_example_says_where_its_buttons_are_and_works_as_an_app(found: dict) -> None:
    app = scenario(found, "app")
    example_opened(app["opened"], "button-app")
    assert app["inEditor"]["status"].startswith("done")
    assert 'open the Preview (or Share, then "open as app")' in app["inEditor"]["output"]
    assert app["appStatus"].startswith("done"), app
    assert app["counted"] == "count: 2" and app["reset"] == "count: 0"


def test_shortcuts_stop_run_once_and_save_from_anywhere(found: dict) -> None:
    keys = scenario(found, "shortcuts")
    for key in ("Control+.", "Escape"):
        assert keys["stopped"][key].startswith("stopped: KeyboardInterrupt"), keys
    in_editor = keys["inEditor"]
    assert in_editor["status"].startswith("done") and "already" not in in_editor["status"], in_editor
    assert in_editor["output"] == "ran from the editor\n"
    assert (
        in_editor["code"] == 'print("ran from the editor")\n'
    )  # CodeMirror's Mod-Enter did not insert a line
    assert keys["save"]["savedCode"] == 'print("saved by Ctrl+S")\n'
    assert keys["save"]["note"]["text"].startswith("Saved")


def test_the_help_overlay_opens_from_the_page_only_and_closes(found: dict) -> None:
    help_ = scenario(found, "help")
    assert help_["inEditor"] == {"dialog": None, "typed": True}  # "?" typed in the editor is text
    assert help_["inField"] == {"dialog": None, "typed": True}
    assert help_["bodyFocused"] is True
    dialog = help_["dialog"]
    assert dialog["modal"] is True and dialog["heading"] == dialog["labelledBy"] == "Keyboard shortcuts"
    rows = "\n".join(dialog["rows"])
    for keys in ("Ctrl+Enter", "Ctrl+.", "Ctrl+S", "F1", "Esc"):
        assert keys in rows
    assert help_["axeOpen"] == []
    assert help_["afterEsc"] is None and help_["byF1"] == "shortcut-help"
    assert help_["afterClose"] is None and help_["byButton"] == "shortcut-help"
    # nothing ran (the background boot may still be under way: "locking…", "booting…" or "ready")
    assert not help_["status"].startswith(("running", "done", "failed", "stopped")), help_["status"]
    assert found["errors"] == []
