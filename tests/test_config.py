"""Token and settings resolution: first found wins, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.api.errors import ConfigError
from tui.config import resolve_settings


def _cli_config(tmp_path: Path, **context: str) -> Path:
    path = tmp_path / "northflank.json"
    path.write_text(json.dumps({
        "current": "work",
        "contexts": [{"name": "other", "token": "nope"}, {"name": "work", **context}],
    }))
    return path


def test_token_file_wins(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    settings = resolve_settings(
        token_file=str(token_file), env={"NORTHFLANK_API_TOKEN": "from-env"},
        cli_config=_cli_config(tmp_path, token="from-cli"), app_config=tmp_path / "none.json",
    )
    assert settings.token == "from-file"
    assert "from-file" not in repr(settings)


def test_env_then_cli_context_then_own_config(tmp_path: Path) -> None:
    cli = _cli_config(tmp_path, token="from-cli", host="https://api.example.com",
                      project="p1", job="j1")
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"token": "from-own"}))
    env_settings = resolve_settings(env={"NF_API_TOKEN": "from-nf"}, cli_config=cli,
                                    app_config=own)
    assert env_settings.token == "from-nf"
    assert env_settings.api_url == "https://api.example.com"
    assert (env_settings.project, env_settings.job) == ("p1", "j1")
    cli_settings = resolve_settings(env={}, cli_config=cli, app_config=own)
    assert cli_settings.token == "from-cli"
    own_settings = resolve_settings(env={}, cli_config=tmp_path / "none.json", app_config=own)
    assert own_settings.token == "from-own"
    assert own_settings.api_url == "https://api.northflank.com"


def test_api_url_flag_and_env(tmp_path: Path) -> None:
    none = tmp_path / "none.json"
    settings = resolve_settings(api_url="http://127.0.0.1:9999",
                                env={"NORTHFLANK_API_URL": "https://x.example"},
                                cli_config=none, app_config=none)
    assert settings.api_url == "http://127.0.0.1:9999"
    assert resolve_settings(env={"NORTHFLANK_API_URL": "https://x.example"},
                            cli_config=none, app_config=none).api_url == "https://x.example"


def test_no_token_says_how(tmp_path: Path) -> None:
    none = tmp_path / "none.json"
    settings = resolve_settings(env={}, cli_config=none, app_config=none)
    with pytest.raises(ConfigError) as caught:
        settings.require_token()
    message = str(caught.value)
    for hint in ("--token-file", "NORTHFLANK_API_TOKEN", "NF_API_TOKEN", "--demo"):
        assert hint in message


def test_plain_http_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    none = tmp_path / "none.json"
    with pytest.raises(ConfigError, match="plain http"):
        resolve_settings(api_url="http://api.northflank.com", env={}, cli_config=none,
                         app_config=none)


def test_missing_token_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the token file"):
        resolve_settings(token_file=str(tmp_path / "nope"), env={},
                         cli_config=tmp_path / "none.json", app_config=tmp_path / "none.json")
