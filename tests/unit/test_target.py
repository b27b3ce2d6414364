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
