"""`python -m shared.natsauth <credentials_dir> <accounts.conf>`: a deployment's NATS credentials."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import natsauth
from shared.events import SERVICES

ROOT = Path(__file__).resolve().parents[2]
IDENTITIES = {*natsauth.USERS, natsauth.CALLOUT_ISSUER}


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    assert natsauth.main([str(tmp_path / "creds"), str(tmp_path / "conf" / "accounts.conf")]) == 0
    config = json.loads((tmp_path / "conf" / "accounts.conf").read_text())
    return config, capsys.readouterr().out


def seeds(directory: Path) -> dict[str, str]:
    return {path.stem: path.read_text().strip() for path in directory.glob("*.nk")}


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a nested configuration."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def test_makes_one_private_seed_per_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, capsys)
    directory = tmp_path / "creds"

    assert set(seeds(directory)) == IDENTITIES
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in [*directory.glob("*.nk"), tmp_path / "conf" / "accounts.conf"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_config_admits_no_one_without_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = run(tmp_path, capsys)
    keys = {key for key, _ in walk(config)}
    users = [user for account in config["accounts"].values() for user in account["users"]]
    callout = config["authorization"]["auth_callout"]
    public = {
        name: natsauth.read_public_key(seed.encode())
        for name, seed in seeds(tmp_path / "creds").items()
    }

    assert "no_auth_user" not in keys
    assert not keys & {"user", "password", "token", "anonymous"}
    assert users and all(set(user) <= {"nkey", "permissions"} for user in users)
    assert {user["nkey"] for user in users} == {public[name] for name in natsauth.USERS}
    assert callout["issuer"] == public[natsauth.CALLOUT_ISSUER]
    assert callout["account"] == natsauth.AUTH_ACCOUNT
    assert set(callout["auth_users"]) == {public[name] for name in natsauth.USERS}
    assert config["system_account"] == natsauth.SYSTEM_ACCOUNT


def test_prints_where_each_file_goes_and_never_a_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out = run(tmp_path, capsys)
    lines = {line.split(": ", 1)[0].strip("-> "): line for line in out.splitlines()}

    for seed in seeds(tmp_path / "creds").values():
        assert seed not in out
        assert seed[:12] not in out
    assert "accounts.conf" in out
    for service in SERVICES:
        assert lines[service].split(": ", 1)[1].split() == list(
            natsauth.seed_files_by_service()[service]
        )
    assert natsauth.seed_files_by_service()["intake"] == (
        "intake.nk",
        *(f"{name}.nk" for name in natsauth.INTAKE_EXTRA_IDENTITIES),
    )
    assert "admin.nk" in out
    assert not any("admin.nk" in files for files in natsauth.seed_files_by_service().values())


def test_keeps_seeds_and_renews_only_a_deleted_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, capsys)
    before = seeds(tmp_path / "creds")
    run(tmp_path, capsys)
    assert seeds(tmp_path / "creds") == before

    (tmp_path / "creds" / "matching.nk").unlink()
    config, _ = run(tmp_path, capsys)
    after = seeds(tmp_path / "creds")
    nkeys = {user["nkey"] for account in config["accounts"].values() for user in account["users"]}

    assert after["matching"] != before["matching"]
    assert {name: seed for name, seed in after.items() if name != "matching"} == {
        name: seed for name, seed in before.items() if name != "matching"
    }
    assert natsauth.read_public_key(after["matching"].encode()) in nkeys
    assert natsauth.read_public_key(before["matching"].encode()) not in nkeys


def test_a_malformed_seed_is_named_and_not_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "feedback.nk").write_text("SUnot-a-seed-but-secret\n")

    with pytest.raises(SystemExit) as exited:
        natsauth.main([str(tmp_path / "creds"), str(tmp_path / "accounts.conf")])

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "feedback.nk" in err and "not an nkey seed" in err
    assert "not-a-seed-but-secret" not in err
    assert not (tmp_path / "accounts.conf").exists()


def test_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.natsauth", str(tmp_path / "c"), str(tmp_path / "a.conf")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "intake: intake.nk" in result.stdout
    assert json.loads((tmp_path / "a.conf").read_text())["authorization"]["auth_callout"]
