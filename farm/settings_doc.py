"""Print docs/configuration.md from the settings model: ``python -m farm.settings_doc > docs/configuration.md``."""

from __future__ import annotations

from farm.settings import Settings

HEADER = """\
# Configuration reference

Generated from `farm/settings.py` (`python -m farm.settings_doc > docs/configuration.md`). Every setting can be
given as an environment variable `WASMFARM_<NAME>` or as a key in the TOML config file (`WASMFARM_CONFIG`, or
`~/.config/wasmfarm/wasmfarm.toml`); command-line options override both. Every command prints on stderr, before it
starts work, the data directory it acts on and where that came from (`--data-dir`, `WASMFARM_DATA_DIR`,
`config <file>` or `default`).

| setting | environment | default | meaning |
| --- | --- | --- | --- |
"""


def render() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        default = "(computed)" if field.default_factory else repr(field.default)
        rows.append(f"| `{name}` | `WASMFARM_{name.upper()}` | `{default}` | {field.description} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
