"""One settings object, built once (by the CLI or the app factory) and passed down.

Sources, strongest first: explicit arguments (command-line options), ``WASMFARM_*`` environment variables, a TOML
config file (``--config``, ``WASMFARM_CONFIG``, or ``$XDG_CONFIG_HOME/wasmfarm/wasmfarm.toml``), defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from farm.errors import ConfigurationError, UnknownRuntime
from farm.runtime.manifest import use_recorded_targets
from farm.runtime.target import RuntimeTarget, targets_for
from farm.store.models import Origin


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "wasmfarm"


def default_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wasmfarm" / "wasmfarm.toml"


class Settings(BaseSettings):
    """Every setting of wasmfarm. ``docs/configuration.md`` is generated from this class."""

    model_config = SettingsConfigDict(env_prefix="WASMFARM_", extra="forbid", validate_default=True)

    data_dir: Path = Field(
        default_factory=default_data_dir, description="Where the database, files and pages live."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default SQLite at <data_dir>/wasmfarm.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db.",
    )
    host: str = Field(default="127.0.0.1", description="Address `wasmfarm serve` listens on.")
    port: int = Field(default=8080, description="Port `wasmfarm serve` listens on.")
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Reverse proxies (comma-separated addresses or networks, `*` for any) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed, so rate limits and logs see the real client behind them (the generated "
        "nginx configuration sets both); empty: none, every request is its peer's.",
    )
    public_url: str | None = Field(
        default=None,
        description="URL clients reach the server at (absolute file URLs in JSON pages use it); "
        "default http://<host>:<port>/.",
    )
    runtimes: list[str] = Field(
        default=["314.0.7"],
        description="Pyodide runtimes served; each gets a /r/<runtime>/simple/ view. An installed runtime's Python, "
        "ABI and platform come from its own pyodide-lock.json (recorded by `wasmfarm runtime add`); the table in "
        "farm/runtime/target.py only answers for runtimes not installed, so a release series it does not list "
        "(say 315.0.x) is installed with `wasmfarm runtime add` before it is configured here.",
    )
    upstream_index: str = Field(
        default="https://pypi.org/simple/", description="PEP 503/691 index `wasmfarm mirror` pulls from."
    )
    upstream_pyodide_lock: str | None = Field(
        default=None,
        description="URL of the pyodide-lock.json published with upstream_index when that is an index of Pyodide "
        "wheels the operator trusts (as pyodide-recipes publishes one beside its index); used by `wasmfarm mirror` "
        'without --upstream, `check --mirror` and the compat page\'s "mirror it". Mirrored wheels it lists keep '
        "its metadata (imports, depends, shared libraries, unvendored tests) in the runtimes' own locks, and the "
        "shared libraries they need are fetched from beside it, each verified against its sha256.",
    )
    npm_registry: str = Field(
        default="https://registry.npmjs.org/",
        description="npm registry the Pyodide runtime packages come from (a private npm mirror works).",
    )
    lock_precedence: list[str] = Field(
        default=["built", "uploaded", "pyodide", "mirrored"],
        description="Which wheel of a project a runtime's pyodide-lock.json lists when several origins have one, "
        "first wins: built (by this farm), uploaded, pyodide (from a Pyodide release distribution, `wasmfarm "
        "runtime add VERSION --distribution FILE`), mirrored (from the upstream index); origins left out come "
        "last. Within an origin the newest installable version wins. `wasmfarm explain NAME --runtime VERSION` "
        "shows the choice.",
    )
    runtime_lock: Literal["own", "all"] = Field(
        default="all",
        description="What each runtime's own pyodide-lock.json lists. `all`: every project the mirror can serve for "
        "the runtime, so a page or a JupyterLite kernel can `loadPackage` (and micropip take from the lock) any of "
        "them by name; the lock grows with the catalog. `own`, for large mirrors: the runtime's own packages (the "
        "projects its upstream lock names, such as micropip), every project with a wheel built here, uploaded or "
        "from an imported Pyodide distribution, and their dependencies; a lock that does not grow with the number "
        "of mirrored projects, which are reached through the index, micropip and server-side locks "
        "(POST /r/VERSION/lock).",
    )
    shared_pages_quiet: float = Field(
        default=0.3,
        ge=0,
        le=60,
        description="Seconds without a new upload after which the shared pages (the root listings and the runtimes' "
        "pyodide-lock.json) are brought up to date with the uploads before them; a project's own pages are updated "
        "before its upload returns. See shared_pages_max_delay.",
    )
    shared_pages_max_delay: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="Most seconds an upload waits to be on the shared pages during a burst of uploads: a burst costs "
        "one render of them per this many seconds, whatever the number of uploads.",
    )
    auto_install_runtimes: bool = Field(
        default=True,
        description="`wasmfarm serve` installs configured runtimes that are missing (in the background) at start.",
    )
    max_upload_bytes: int = Field(default=100 * 1024**2, description="Largest accepted upload.")
    max_archive_entries: int = Field(
        default=20_000, description="Most entries (files, directories) a wheel or sdist may hold."
    )
    max_uncompressed_bytes: int = Field(
        default=1024**3, description="Largest uncompressed size of a wheel or sdist."
    )
    max_compression_ratio: int = Field(
        default=200,
        description="Largest expansion of a zip entry or a whole .tar.gz (beyond its first MiB): decompression bombs.",
    )
    max_metadata_bytes: int = Field(
        default=4 * 1024**2,
        description="Largest METADATA, PKG-INFO or RECORD inside an uploaded or mirrored file.",
    )
    max_archive_seconds: float = Field(
        default=30.0, description="Longest time the checks of one wheel or sdist may take."
    )
    require_read_token: bool = Field(
        default=False,
        description="When true, every route (index, files, runtimes, locks, builds, proxy, editor) needs a token of "
        "scope read or higher; only /health and CORS preflights stay open (uploads check their own scope).",
    )
    mirror_concurrency: int = Field(default=4, description="Parallel downloads of `wasmfarm mirror`.")
    http_timeout: float = Field(default=60.0, description="Seconds before an upstream request is abandoned.")
    runner_assets_dir: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parents[1] / "runner_assets",
        description="Browser and Node assets served under /runner/ (the checkout's runner_assets/).",
    )
    app_embed_origins: list[str] = Field(
        default=[],
        description="Origins allowed to embed app mode (/app) in an iframe, e.g. https://intranet.corp.",
    )
    proxy_enabled: bool = Field(default=True, description="Serve the CORS proxy at /proxy?url=...")
    proxy_allow_hosts: list[str] = Field(
        default=[],
        description="If set, the proxy fetches only these hosts: 'host' on the ports of proxy_allowed_ports, "
        "'host:port' on that port only; they are trusted even where they resolve to private addresses.",
    )
    proxy_allowed_ports: list[int] = Field(default=[80, 443], description="Ports the proxy connects to.")
    proxy_max_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest response the proxy passes on."
    )
    proxy_timeout: float = Field(default=30.0, description="Seconds a proxied fetch may take in all.")
    proxy_rate_per_minute: int = Field(default=120, description="Proxied requests per client per minute.")
    recipes_dir: Path = Field(default=Path("recipes"), description="Directory of recipes (<name>/meta.yaml).")
    generated_recipes_dir: Path | None = Field(
        default=None,
        description="Recipes generated on request (`wasmfarm check --build`), kept apart from recipes_dir (which "
        "wins on a name clash; `wasmfarm recipes promote NAME` moves one there); default <data_dir>/generated-recipes.",
    )
    check_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Wall-clock seconds a compatibility check may spend per wheel in Pyodide (a batch of n wheels "
        "sharing one runtime boot gets n times as much).",
    )
    check_batch_size: int = Field(
        default=20,
        ge=1,
        description="Wheels a batch scan (`wasmfarm check --scan`, or from the /compat page) runs per Pyodide "
        "boot; a scan from the page is cut into batches of at most this many, as many as a multiple of "
        "compat_workers.",
    )
    compat_requests: Literal["off", "token", "anyone"] = Field(
        default="token",
        description="Who may request compatibility checks and builds from the /compat pages: off (nobody: the "
        "pages only show kept checks), token (a token of scope build, or admin), anyone (rate-limited per client "
        "address by compat_rate_per_minute). Mirroring and batch scans from the page always need an admin token.",
    )
    compat_rate_per_minute: float = Field(
        default=6.0,
        gt=0,
        description="With compat_requests = anyone: requests (check, build) per client address and minute; bursts "
        "up to compat_rate_burst. Beyond it: 429 with Retry-After. A valid build token is not limited.",
    )
    compat_rate_burst: int = Field(
        default=3,
        ge=1,
        description="Requests a client may make at once before compat_rate_per_minute applies.",
    )
    compat_workers: int = Field(
        default=2,
        ge=1,
        description="Threads of `wasmfarm serve` that run checks requested from the /compat pages (each check "
        "that needs Pyodide boots it under Node), and threads that run the batches of scans (jobs: without "
        "broker_url in `wasmfarm serve`, with one in every `wasmfarm worker`, whose --check-threads overrides it).",
    )
    lock_workers: int | None = Field(
        default=None,
        ge=1,
        description="Worker processes of `wasmfarm serve` that compute server-side locks (POST /r/VERSION/lock), "
        "so their resolution never holds the serving process's interpreter lock and pages keep being served; they "
        "run at a lower CPU priority (nice 10) than page serving. Default: one per four CPU cores, at least one.",
    )
    lock_queue: int = Field(
        default=8,
        ge=0,
        description="Server-side locks that may wait for a lock worker; beyond them a lock request is answered 503 "
        "with Retry-After, never queued without bound.",
    )
    builder_dir: Path | None = Field(
        default=None,
        description="Where builder images live; default <data_dir>/builders (keep it on a local disk).",
    )
    debian_mirror: str = Field(
        default="http://deb.debian.org/debian", description="Debian archive builder images are made from."
    )
    debian_suite: str = Field(
        default="sid", description="Debian suite of builder images (python3.14 + emscripten)."
    )
    builder_pip_index: str = Field(
        default="https://pypi.org/simple/",
        description="Index pyodide-build is installed from into builder images.",
    )
    pyodide_build_version: str = Field(
        default="0.39.2", description="pyodide-build version in builder images."
    )
    xbuildenv_metadata_url: str | None = Field(
        default=None,
        description="Official builders: pyodide-build's cross-build environment metadata URL "
        "(PYODIDE_CROSS_BUILD_ENV_METADATA_URL); serve a copy for air-gapped sites.",
    )
    source_mirrors: list[str] = Field(
        default=[],
        description="Base URLs where recipe sources are looked up first, as <mirror>/<filename> (checked by "
        "sha256); then the recipe's source/url, then the upstream and build indexes by file name and sha256.",
    )
    build_index_urls: list[str] = Field(
        default=["https://pypi.org/simple/"],
        description="Indexes build requirements (setuptools, cython, ...) are prefetched from, first wins.",
    )
    build_timeout: float = Field(
        default=1800.0, description="Wall-clock seconds a build may take before it is killed."
    )
    build_memory_bytes: int = Field(default=8 * 1024**3, description="Memory limit of a build.")
    build_jobs: int = Field(default=1, description="Parallel compile jobs inside one build (PYODIDE_JOBS).")
    build_cache_dir: Path | None = Field(
        default=None,
        description="Directory where built artifacts are kept by build key and shared between farms (a CI cache, "
        "a second farm): a build whose key is there is copied in, checked and verified in Pyodide, not compiled "
        "again. Unset, only this farm's own builds are reused.",
    )
    build_attempts: int = Field(
        default=3,
        description="Attempts of a build that fails for the farm's reasons (never for a compile error).",
    )
    build_lease_seconds: float = Field(
        default=60.0, description="A running build whose worker has not reported for this long is taken over."
    )
    broker_url: str | None = Field(
        default=None,
        description="dramatiq broker: redis://... or amqp://...; unset, builds run in the serving/building process.",
    )
    access_log: Path | None = Field(
        default=None,
        description="File that receives one line per request (method, path, status, bytes, content type; in JSON "
        "also the client, the duration and the token id); `-` sends them to the server's log on stderr.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines on stderr (and in the access log file): text for a person, or json, one JSON object "
        "a line (time, level, logger, message, event and its fields, the request) for a log pipeline.",
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest request head (request line and all headers) `wasmfarm serve` reads; "
        "a larger one is answered 431 and the connection closed.",
    )
    max_header_count: int = Field(
        default=100, ge=1, description="Most header fields a request may carry; more are answered 431."
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a complete request head, counted from connecting (on a "
        "kept-alive connection, from the first byte of the next request); a slower one is answered 408.",
    )

    @field_validator("lock_precedence")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        known = [origin.value for origin in Origin]
        unknown = [v for v in value if v not in known]
        if unknown or len(set(value)) != len(value):
            raise ValueError(
                f"lock_precedence {value!r}: name each of {', '.join(known)} at most once"
                + (f" ({', '.join(map(repr, unknown))} is not an origin)" if unknown else "")
            )
        return value

    @model_validator(mode="after")
    def _known_runtimes(self) -> Settings:
        # The data directory's installed runtimes describe themselves (their own lock's info, recorded at
        # `runtime add`); the table in farm/runtime/target.py answers for the others.
        use_recorded_targets(self.runtime_dir)
        try:
            targets_for(self.runtimes)
        except UnknownRuntime as exc:  # it names the known series and the installed runtimes
            raise UnknownRuntime(
                f"setting runtimes: {exc}; leave it out of the setting (--runtime, WASMFARM_RUNTIMES, the config "
                "file) while `wasmfarm runtime add` installs it, then name it there"
            ) from None
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path.is_file():
            try:
                tomllib.loads(path.read_text())
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"config file {path}: not valid TOML: {exc}") from None
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # Derived values -------------------------------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'wasmfarm.db'}"

    @property
    def resolved_public_url(self) -> str:
        url = self.public_url or f"http://{_url_host(self.host)}:{self.port}/"
        return url if url.endswith("/") else url + "/"

    @property
    def resolved_lock_workers(self) -> int:
        return self.lock_workers or max(1, (os.cpu_count() or 1) // 4)

    @property
    def targets(self) -> list[RuntimeTarget]:
        return targets_for(self.runtimes)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def runtime_dir(self) -> Path:
        """Per-runtime bookkeeping: the upstream lock and the install manifest."""
        return self.data_dir / "runtimes"

    @property
    def resolved_builder_dir(self) -> Path:
        return self.builder_dir or self.data_dir / "builders"

    @property
    def resolved_generated_recipes_dir(self) -> Path:
        return self.generated_recipes_dir or self.data_dir / "generated-recipes"

    @property
    def recipe_dirs(self) -> tuple[Path, Path]:
        """Where the build farm finds recipes: the hand-written ones first (they win), then the generated ones."""
        return self.recipes_dir, self.resolved_generated_recipes_dir

    @property
    def snapshot_dir(self) -> Path:
        """Memory snapshots of booted runtimes, which verifications restore instead of booting (a cache)."""
        return self.data_dir / "snapshots"

    @property
    def www_dir(self) -> Path:
        """Rendered index pages, laid out like the URLs: what a static server in front serves."""
        return self.data_dir / "www"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding it
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def config_file() -> Path:
    """The TOML config file settings are read from (it need not exist unless WASMFARM_CONFIG names it)."""
    config = os.environ.get("WASMFARM_CONFIG")
    path = Path(config) if config else default_config_file()
    if config and not path.is_file():
        raise ConfigurationError(f"WASMFARM_CONFIG={config!r}: no such file")
    return path


def data_dir_origin(overrides: dict[str, Any]) -> str:
    """Where the data directory of settings built with ``overrides`` comes from, in the words a user can act on:
    ``--data-dir``, ``WASMFARM_DATA_DIR``, ``config <file>`` or ``default``."""
    if overrides.get("data_dir") is not None:
        return "--data-dir"
    if any(key.upper() == "WASMFARM_DATA_DIR" for key in os.environ):
        return "WASMFARM_DATA_DIR"
    path = config_file()
    try:
        in_config = path.is_file() and "data_dir" in tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        in_config = False  # loading the settings has said what is wrong with it
    return f"config {path}" if in_config else "default"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; command-line options come in as overrides (None means 'not given')."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ConfigurationError:
        raise
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
