"""``wasmfarm token``: expiry and project restriction, as an operator creates and lists them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from farm.cli.main import cli
from farm.cli.token_cmd import parse_expiry
from farm.context import Farm
from farm.errors import AuthenticationError, ConfigurationError, InvalidDistribution, PermissionDenied
from farm.settings import Settings
from farm.store.models import TokenScope


def test_create_restricted_expiring_token_and_list_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner()
    options = ["--scope", "upload", "--expires", "30d", "--project", "Team_A.Lib", "--project", "team-a-docs"]
    created = runner.invoke(cli, ["--data-dir", str(data), "token", "create", *options])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("wf_")
    listed = runner.invoke(cli, ["--data-dir", str(data), "token", "list"])
    assert listed.exit_code == 0, listed.output
    row = listed.stdout.strip().split("\t")
    assert row[2:4] == ["upload", "active"] and "projects team-a-docs,team-a-lib" in row
    expires = datetime.strptime(row[5].removeprefix("expires "), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=2)
    assert secret not in listed.stdout

    farm = Farm.open(Settings(data_dir=data))
    try:
        info = farm.tokens.verify(secret, TokenScope.UPLOAD)
        info.check_project("team-a-lib")
        with pytest.raises(PermissionDenied, match="may upload only to team-a-docs, team-a-lib"):
            info.check_project("team-b-lib")
    finally:
        farm.close()


def test_bad_expiry_and_project_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="give a duration"):
        parse_expiry("next tuesday")
    farm = Farm.open(Settings(data_dir=tmp_path / "data"))
    try:
        with pytest.raises(ConfigurationError, match="in the past"):
            farm.tokens.create(TokenScope.UPLOAD, expires_at=datetime.now(UTC) - timedelta(days=1))
        with pytest.raises(InvalidDistribution, match="not a valid project name"):
            farm.tokens.create(TokenScope.UPLOAD, projects=["javascript:x"])
        issued = farm.tokens.create(
            TokenScope.READ, expires_at=datetime.now(UTC) + timedelta(milliseconds=50)
        )
        farm.tokens.verify(issued.secret, TokenScope.READ)
        time.sleep(0.1)
        with pytest.raises(AuthenticationError, match="expired at"):
            farm.tokens.verify(issued.secret, TokenScope.READ)
    finally:
        farm.close()
