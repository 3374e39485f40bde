"""Token and settings resolution: first found wins, secrets never shown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tui import config
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


# ----- hostile files, tokens and URLs (issue 8, class 10) -----------------------------------

SECRET = "nfsecret-0123456789abcdef"


def _resolve(tmp_path: Path, **kwargs: object) -> object:
    kwargs.setdefault("env", {})
    kwargs.setdefault("cli_config", tmp_path / "no-cli.json")
    kwargs.setdefault("app_config", tmp_path / "no-own.json")
    return resolve_settings(**kwargs)  # type: ignore[arg-type]


def _assert_clear(error: pytest.ExceptionInfo[ConfigError], *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message and SECRET not in message, message
    assert message.isprintable(), message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(("content", "words"), [
    (b"\xff\xfe" + SECRET.encode(), ("not UTF-8",)),
    (f"{SECRET}\u00e9".encode(), ("non-ASCII",)),
    (f"{SECRET}\nsecond-line".encode(), ("more than one line",)),
    (f"{SECRET}\rX".encode(), ("more than one line",)),
    (f"{SECRET}\x1b[31m".encode(), ("control character",)),
    (f"{SECRET}\x7f".encode(), ("control character",)),
    (f"{SECRET} {SECRET}".encode(), ("whitespace",)),
    (f"{SECRET}\t{SECRET}".encode(), ("whitespace",)),
    (b"", ("empty",)),
    (b"  \n\n ", ("empty",)),
    (b"x" * (64 * 1024 + 1), ("larger than 64 KiB",)),
    (b"x" * 9000, ("longer than 8192",)),
], ids=["not-utf8", "non-ascii", "newline", "cr", "escape", "del", "space", "tab", "empty",
        "blank", "huge", "long"])
def test_a_bad_token_file_says_what_is_wrong_without_the_token(
    tmp_path: Path, content: bytes, words: tuple[str, ...]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, token_file=str(token_file))
    _assert_clear(caught, str(token_file), *words)


def test_a_token_file_with_a_trailing_newline_and_bom_is_fine(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xef\xbb\xbf" + SECRET.encode() + b"\r\n")
    settings = _resolve(tmp_path, token_file=str(token_file))
    assert settings.token == SECRET  # type: ignore[attr-defined]


def test_a_token_file_that_is_a_directory_a_device_or_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, token_file=str(tmp_path))
    _assert_clear(caught, "is a directory")
    if Path("/dev/zero").exists():
        with pytest.raises(ConfigError) as caught:
            _resolve(tmp_path, token_file="/dev/zero")
        _assert_clear(caught, "not a regular file")
    token_file = tmp_path / "token"
    token_file.write_text(SECRET)
    real_open = os.open

    def denied(path: object, *args: object, **kwargs: object) -> int:
        if str(path) == str(token_file):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, token_file=str(token_file))
    _assert_clear(caught, "permission denied")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_nobody_writes_to_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, token_file=str(fifo))
    _assert_clear(caught, "empty")
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, app_config=fifo)
    _assert_clear(caught, "not a regular file")


def test_a_piped_token_file_is_read(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, SECRET.encode() + b"\n")
    os.close(write_end)
    try:
        settings = _resolve(tmp_path, token_file=f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert settings.token == SECRET  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value", "words"), [
    (f"{SECRET}\nX-Injected: 1", ("$NORTHFLANK_API_TOKEN", "more than one line")),
    (f"{SECRET} x", ("whitespace",)),
    (f"{SECRET}\u00e9", ("non-ASCII",)),
    (f"{SECRET}\udcff", ("non-ASCII",)),  # invalid UTF-8 in the environment
    (f"{SECRET}\x00", ("control character",)),
])
def test_a_bad_token_in_the_environment(tmp_path: Path, value: str,
                                        words: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, env={"NORTHFLANK_API_TOKEN": value})
    _assert_clear(caught, *words)


def test_a_bad_token_in_either_config_file(tmp_path: Path) -> None:
    cli = _cli_config(tmp_path, token=f"{SECRET}\nX: 1")
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, cli_config=cli)
    _assert_clear(caught, str(cli), "more than one line")
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"token": f"{SECRET} {SECRET}"}))
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, app_config=own)
    _assert_clear(caught, str(own), "whitespace")


BAD_CONFIGS = [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"{" + b" " * (1024 * 1024) + b"}", "larger than 1024 KiB"),
    (b"[1, 2]", "not a JSON object"),
    (b'"token"', "not a JSON object"),
    (b"{\"token\": \"x\xff\"}", "not UTF-8"),
    (b"{\"token\": ", "not valid JSON (line 1"),
    (b"{\"n\": " + b"9" * 5000 + b"}", "not valid JSON"),
]
BAD_CONFIG_IDS = ["deep", "huge", "list", "string", "not-utf8", "truncated", "huge-int"]


@pytest.mark.parametrize(("content", "words"), BAD_CONFIGS, ids=BAD_CONFIG_IDS)
def test_a_broken_own_config_is_a_one_line_error(tmp_path: Path, content: bytes,
                                                 words: str) -> None:
    own = tmp_path / "own.json"
    own.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, app_config=own, env={"NORTHFLANK_API_TOKEN": SECRET})
    _assert_clear(caught, str(own), words)


@pytest.mark.parametrize("field", ["token", "api_url", "team"])
def test_wrong_types_in_the_own_config(tmp_path: Path, field: str) -> None:
    own = tmp_path / "own.json"
    own.write_text(json.dumps({field: {"deep": [1, 2]}}))
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, app_config=own)
    _assert_clear(caught, f'"{field}" must be a string')


def test_own_config_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, app_config=tmp_path)
    _assert_clear(caught, "is a directory")


@pytest.mark.parametrize(("content", "words"), BAD_CONFIGS, ids=BAD_CONFIG_IDS)
def test_a_broken_cli_config_is_a_warning_when_the_token_is_elsewhere(
    tmp_path: Path, content: bytes, words: str
) -> None:
    cli = tmp_path / "northflank.json"
    cli.write_bytes(content)
    settings = _resolve(tmp_path, cli_config=cli, env={"NORTHFLANK_API_TOKEN": SECRET})
    assert settings.token == SECRET  # type: ignore[attr-defined]
    (warning,) = settings.warnings  # type: ignore[attr-defined]
    assert str(cli) in warning and words in warning and "\n" not in warning
    # With no other token, its problem is the error (the user relies on `northflank login`).
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, cli_config=cli)
    _assert_clear(caught, str(cli), words)


def test_wrong_types_in_the_cli_context_are_ignored_with_a_warning(tmp_path: Path) -> None:
    cli = tmp_path / "northflank.json"
    cli.write_text(json.dumps({"current": "w", "contexts": [
        {"name": "w", "token": SECRET, "host": ["x"], "project": 5}, "junk", None,
    ]}))
    settings = _resolve(tmp_path, cli_config=cli)
    assert settings.token == SECRET  # type: ignore[attr-defined]
    assert settings.api_url == "https://api.northflank.com"  # type: ignore[attr-defined]
    assert settings.project is None  # type: ignore[attr-defined]
    (warning,) = settings.warnings  # type: ignore[attr-defined]
    assert '"host"' in warning and '"project"' in warning
    for junk in ({"contexts": "x"}, {"current": [], "contexts": [[]]}, {"current": "w"}):
        cli.write_text(json.dumps(junk))
        assert _resolve(tmp_path, cli_config=cli).token is None  # type: ignore[attr-defined]


BAD_URLS = [
    ("http://127.0.0.1:99999", "port out of range"),
    ("http://127.0.0.1:0", "port out of range"),
    ("http://127.0.0.1:abc", "not a valid URL"),
    ("http://[::1", "not a valid URL"),
    ("https://exa mple.com", "space or a control character"),
    ("https://api.example.com\x1b]0;owned\x07", "space or a control character"),
    ("https://api.example.com\n", None),  # surrounding whitespace is stripped: fine
    ("ftp://api.example.com", "must start with https://"),
    ("https://", "no host name"),
    ("::::", "not a valid URL"),
    ("%%%", "invalid host name"),
    ("https://a..b", "invalid host name"),
    ("https://-a-.example", "invalid host name"),
    ("https://xn--", "invalid host name"),
    ("https://api.example.com/?x=1", "query"),
    ("https://api.example.com/#x", "fragment"),
    (f"https://me:{SECRET}@api.example.com", "user name or password"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_a_bad_api_url_is_a_one_line_error(tmp_path: Path, url: str, words: str | None
                                           ) -> None:
    if words is None:
        assert _resolve(tmp_path, api_url=url).api_url == url.strip()  # type: ignore[attr-defined]
        return
    with pytest.raises(ConfigError) as caught:
        _resolve(tmp_path, api_url=url)
    _assert_clear(caught, "--api-url", words)
    assert "\x1b" not in str(caught.value)
    if url:
        with pytest.raises(ConfigError) as caught:
            _resolve(tmp_path, env={"NORTHFLANK_API_URL": url})
        _assert_clear(caught, "$NORTHFLANK_API_URL", words)


@pytest.mark.parametrize(("url", "expected"), [
    ("api.example.com", "https://api.example.com"),
    ("https://api.example.com/", "https://api.example.com"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("https://b\u00fccher.example", "https://b\u00fccher.example"),
])
def test_good_api_urls_pass(tmp_path: Path, url: str, expected: str) -> None:
    assert _resolve(tmp_path, api_url=url).api_url == expected  # type: ignore[attr-defined]


def test_no_config_from_a_relative_home_or_xdg_dir(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """HOME="" or a relative XDG_CONFIG_HOME would read a config (a host!) from the cwd."""
    planted = tmp_path / "cwd"
    (planted / ".northflank").mkdir(parents=True)
    (planted / ".northflank" / "config.json").write_text(json.dumps(
        {"current": "x", "contexts": [{"name": "x", "token": "planted", "host": "evil.example"}]}
    ))
    (planted / "rel" / "nf-runs").mkdir(parents=True)
    (planted / "rel" / "nf-runs" / "config.json").write_text(json.dumps({"token": "planted"}))
    monkeypatch.chdir(planted)
    for home in ("", "relative", "."):
        env = {"HOME": home, "XDG_CONFIG_HOME": "rel"}
        assert config.home_dir(env) != Path(home)
        settings = resolve_settings(env=env)
        assert settings.token != "planted" and "evil" not in settings.api_url
    assert config.env_dir("XDG_CONFIG_HOME", {"XDG_CONFIG_HOME": "rel"}) is None
    assert config.env_dir("XDG_CONFIG_HOME", {"XDG_CONFIG_HOME": "/abs"}) == Path("/abs")


def test_no_home_at_all_still_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "home_dir", lambda env=None: None)
    env = {"NORTHFLANK_API_TOKEN": SECRET}
    assert config.app_config_path(env) is None
    assert config.northflank_cli_config_path(env) is None
    assert resolve_settings(env=env).token == SECRET
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("APPDATA", raising=False)
    with pytest.raises(ConfigError, match=r"an nf-runs config\.json"):
        resolve_settings(env={}).require_token()
