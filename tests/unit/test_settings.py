import re
from pathlib import Path

import pytest

from farm import settings_doc
from farm.errors import ConfigurationError, UnknownRuntime
from farm.settings import Settings, load_settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_configuration_doc_is_generated_from_the_model() -> None:
    assert DOC.read_text() == settings_doc.render(), (
        "run: python -m farm.settings_doc > docs/configuration.md"
    )


def test_sources_options_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "wasmfarm.toml"
    config.write_text('port = 9001\nhost = "0.0.0.0"\nruntimes = ["314.0.7", "0.29.5"]\n')
    monkeypatch.setenv("WASMFARM_CONFIG", str(config))
    monkeypatch.setenv("WASMFARM_PORT", "9002")
    settings = load_settings(data_dir=tmp_path, port=None)
    assert settings.port == 9002  # env beats the file
    assert settings.runtimes == ["314.0.7", "0.29.5"]
    assert settings.resolved_public_url == "http://127.0.0.1:9002/"  # the wildcard address is not a URL host
    assert load_settings(data_dir=tmp_path, port=9003).port == 9003  # options beat env
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'wasmfarm.db'}"


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMFARM_CONFIG", "/nonexistent/wasmfarm.toml")
    with pytest.raises(ConfigurationError, match=re.escape("/nonexistent/wasmfarm.toml")):
        load_settings()


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises((UnknownRuntime, ValueError), match=re.escape("unknown Pyodide runtime '7.0.0'")):
        Settings(runtimes=["7.0.0"])


def test_unknown_setting_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "wasmfarm.toml"
    config.write_text("prot = 1\n")
    monkeypatch.setenv("WASMFARM_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match="prot"):
        load_settings()


def test_a_broken_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "wasmfarm.toml"
    config.write_text('port = 8080\npublic_url = "http://unclosed\n')
    monkeypatch.setenv("WASMFARM_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match=f"config file {re.escape(str(config))}: not valid TOML"):
        Settings()


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (["mirror", "-v", "attrs"], ["-v", "mirror", "attrs"]),
        (["--verbose", "render"], ["--verbose", "render"]),
        (["build", "x", "--", "-v"], ["build", "x", "--", "-v"]),
        (["serve"], ["serve"]),
    ],
)
def test_verbose_is_taken_after_the_command_too(argv: list[str], hoisted: list[str]) -> None:
    from index_server.cli import hoist_verbose

    assert hoist_verbose(argv) == hoisted
