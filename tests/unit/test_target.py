import pytest
from packaging.utils import canonicalize_name

from farm.errors import UnknownRuntime
from farm.mirror.offer import installable_versions
from farm.mirror.upstream import UpstreamFile, UpstreamProject
from farm.runtime.target import target_for


def test_314_target_describes_the_runtime() -> None:
    target = target_for("314.0.7")
    assert (target.python, target.abi, target.emscripten) == ("3.14.2", "2026_0", "5.0.3")
    assert target.platforms == [
        "pyemscripten_2026_0_wasm32",
        "pyodide_2026_0_wasm32",
        "emscripten_5_0_3_wasm32",
    ]


def test_best_tags_come_first() -> None:
    tags = [str(t) for t in target_for("314.0.7").tags]
    assert tags[:3] == [
        "cp314-cp314-pyemscripten_2026_0_wasm32",
        "cp314-cp314-pyodide_2026_0_wasm32",
        "cp314-cp314-emscripten_5_0_3_wasm32",
    ]
    assert tags.index("cp314-abi3-pyemscripten_2026_0_wasm32") < tags.index("py3-none-any")
    assert tags.index("cp314-none-any") < tags.index("py314-none-any") < tags.index("py3-none-any")
    assert not any("manylinux" in t or "2025_0" in t for t in tags)


@pytest.mark.parametrize(
    ("runtime", "filename", "accepted"),
    [
        ("314.0.7", "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl", True),
        ("314.0.7", "a-1.0-cp314-cp314-pyodide_2026_0_wasm32.whl", True),
        ("314.0.7", "a-1.0-cp314-cp314-emscripten_5_0_3_wasm32.whl", True),
        ("314.0.7", "a-1.0-cp312-abi3-pyemscripten_2026_0_wasm32.whl", True),
        ("314.0.7", "a-1.0-py3-none-any.whl", True),
        ("314.0.7", "a-1.0-py2.py3-none-any.whl", True),
        ("314.0.7", "a-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl", False),
        ("314.0.7", "a-1.0-cp314-cp314-pyemscripten_2025_0_wasm32.whl", False),
        ("314.0.7", "a-1.0-cp314-cp314-manylinux_2_17_x86_64.whl", False),
        ("314.0.7", "a-1.0-py2-none-any.whl", False),
        ("314.0.7", "a-1.0.tar.gz", False),
        ("0.29.5", "a-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl", True),
        ("0.29.5", "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl", False),
        ("314.0.7", "a-1.0-cp314-cp314-manylinux_2_17_x86_64.pyemscripten_2026_0_wasm32.whl", True),
        ("314.0.7", "a-1.0-cp314-cp314-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False),
        ("314.0.7", "a-1.0-py3-none-any.manylinux1_x86_64.whl", True),
    ],
)
def test_accepts(runtime: str, filename: str, accepted: bool) -> None:
    assert target_for(runtime).accepts(filename) is accepted
    # The mirror's selection skips most files by a string test on their platform field before parsing them: it
    # must agree with the parsed answer.
    project = UpstreamProject(
        canonicalize_name("a"), "u", (UpstreamFile(filename, "u", None, None, False, None, None, False),)
    )
    assert bool(installable_versions(project, target_for(runtime))) is accepted


def test_markers_are_the_runtime_ones() -> None:
    from packaging.markers import Marker

    env = target_for("314.0.7").marker_environment
    assert Marker('sys_platform == "emscripten" and platform_machine == "wasm32"').evaluate(env)
    assert Marker('python_version >= "3.14"').evaluate(env)
    assert not Marker('sys_platform == "linux"').evaluate(env)


def test_unknown_runtime_names_the_known_ones() -> None:
    with pytest.raises(UnknownRuntime, match=r"'1\.2\.3'.*314\.0"):
        target_for("1.2.3")


INFO_315 = {"abi_version": "2027_0", "platform": "emscripten_6_0_0", "python": "3.15.0", "arch": "wasm32"}


def test_target_from_the_runtime_lock_info() -> None:
    from farm.runtime.target import target_from_info

    target = target_from_info("315.0.0", {**INFO_315, "version": "315.0.0"}, "pyodide@315.0.0")
    assert (target.version, target.python, target.abi, target.emscripten) == (
        "315.0.0",
        "3.15.0",
        "2027_0",
        "6.0.0",
    )
    assert [str(t) for t in target.tags[:3]] == [
        "cp315-cp315-pyemscripten_2027_0_wasm32",
        "cp315-cp315-pyodide_2027_0_wasm32",
        "cp315-cp315-emscripten_6_0_0_wasm32",
    ]
    assert target.marker_environment["platform_release"] == "6.0.0"
    assert target.marker_environment["python_version"] == "3.15"
    no_arch = {
        k: v for k, v in INFO_315.items() if k != "arch"
    }  # older locks: wasm32 is the only one there is
    assert target_from_info("315.0.0", no_arch, "x").abi == "2027_0"
    assert target_from_info("315.0.0", {**INFO_315, "python": "3.15.0rc2"}, "x").python_xy == (3, 15)


@pytest.mark.parametrize(
    ("info", "complaint"),
    [
        (None, "has no info object \\(got None\\)"),
        (["2027_0"], "has no info object"),
        ({**INFO_315, "abi_version": "../../etc"}, "abi_version '../../etc' is not a PEP 783 ABI"),
        ({**INFO_315, "abi_version": 2027}, "abi_version 2027 is not a PEP 783 ABI"),
        ({**INFO_315, "abi_version": "2027_0\n"}, "abi_version '2027_0\\\\n'"),
        ({**INFO_315, "platform": "linux_x86_64"}, "platform 'linux_x86_64' is not an Emscripten platform"),
        ({**INFO_315, "platform": "emscripten_6_0"}, "platform 'emscripten_6_0'"),
        ({**INFO_315, "python": "2.7.18"}, "python '2.7.18' is not a Python 3 version"),
        ({**INFO_315, "python": "3.15"}, "python '3.15'"),
        ({**INFO_315, "python": "3.15.0+local"}, "python '3.15.0\\+local'"),
        ({**INFO_315, "arch": "wasm64"}, "arch 'wasm64' is not 'wasm32'"),
        ({"abi_version": "x" * 5000}, "abi_version 'xxxx.*\\.\\.\\. is not.*; platform None.*; python None"),
    ],
)
def test_unusable_lock_info_is_refused_with_every_problem(info: object, complaint: str) -> None:
    from farm.errors import InvalidDistribution
    from farm.runtime.target import target_from_info

    with pytest.raises(InvalidDistribution, match=f"pyodide@315.0.0: .*{complaint}") as caught:
        target_from_info("315.0.0", info, "pyodide@315.0.0")
    assert len(str(caught.value)) < 600  # a hostile value is shown shortened


def test_recorded_targets_come_before_the_table() -> None:
    from farm.runtime.target import RuntimeTarget, RuntimeTargets, disagreement, series_target

    targets = RuntimeTargets()
    assert targets.target_for("314.0.7") == target_for("314.0.7")  # nothing recorded: the table
    with pytest.raises(
        UnknownRuntime, match=r"'315\.0\.0'.*installed: none.*`wasmfarm runtime add 315\.0\.0`"
    ):
        targets.target_for("315.0.0")
    new = RuntimeTarget("315.0.0", python="3.15.0", abi="2027_0", emscripten="6.0.0")
    targets.record(new)
    assert targets.target_for("315.0.0") is new
    odd = RuntimeTarget("314.0.7", python="3.14.3", abi="2026_0", emscripten="5.0.4")
    targets.use([odd])  # another data directory: its runtimes replace the ones recorded before
    assert targets.target_for("314.0.7") is odd
    assert (
        targets.target_for("314.0.6").python == "3.14.2"
    )  # not installed: the table's answer for its series
    with pytest.raises(UnknownRuntime):
        targets.target_for("315.0.0")
    table = series_target("314.0.7")
    assert table is not None
    assert (
        disagreement(odd, table) == "python '3.14.3' (table: '3.14.2'), emscripten '5.0.4' (table: '5.0.3')"
    )
    assert disagreement(target_for("314.0.7"), table) is None
    targets.forget("314.0.7")
    assert targets.target_for("314.0.7") == table


@pytest.mark.parametrize("text", ["../x", "314", "314.0.7 ", "v314.0.7", "314.0.07", "", "314.0.7/../0"])
def test_runtime_versions_that_would_name_odd_directories_are_refused(text: str) -> None:
    from farm.runtime.target import runtime_version

    with pytest.raises(UnknownRuntime, match="not a Pyodide runtime version"):
        runtime_version(text)
    assert runtime_version("314.0.7") == "314.0.7"
    assert runtime_version("0.29.5") == "0.29.5"
