"""settings.toml and `nf-runs config`: flags > environment > file > defaults, a bad file never
stops the start, the file is written atomically (0600, never a token), and the command says
where every setting came from."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui import settings as settings_module
from tui.accounts import start_job
from tui.settings import (
    KEYS,
    LastJob,
    SettingsFile,
    UserSettings,
    read_file,
    resolve,
    settings_path,
    tomllib,  # (the standard library's, or tomli on Python 3.10)
)
from tui.simulator import Simulator
from tui.toml_writer import dumps

from .test_cli import SECRET, Cli, nf_runs  # noqa: F401

ENV_NAMES = [key.env for key in KEYS if key.env]


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----- precedence ---------------------------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path) -> None:
    resolved = resolve({}, {}, tmp_path / "none.toml")
    assert resolved.settings == UserSettings()
    assert set(resolved.sources.values()) == {"default"}
    assert not resolved.warnings and not resolved.file.exists


def test_flags_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, 'theme = "nord"\ntime_mode = "utc"\nrefresh = 30\nbudget = 20.5\n'
                           'board = true\nboard_project = "data"\ncontext = "staging"\n'
                           '[last_job]\nproject = "p"\njob = "j"\ncontext = "staging"\n')
    from_file = resolve({}, {}, path)
    assert from_file.settings == UserSettings(
        theme="nord", time_mode="utc", refresh=30.0, budget=20.5, board=True,
        board_project="data", context="staging", last_job=LastJob("p", "j", "staging"))
    assert set(from_file.sources.values()) == {"file"}
    assert not from_file.warnings

    env = {"NF_RUNS_THEME": "gruvbox", "NF_RUNS_TIME_MODE": "local", "NF_RUNS_REFRESH": "12",
           "NF_RUNS_BUDGET": "40", "NF_RUNS_BOARD": "off", "NF_RUNS_CONTEXT": "prod"}
    from_env = resolve({}, env, path)
    assert (from_env.settings.theme, from_env.settings.time_mode, from_env.settings.refresh,
            from_env.settings.budget, from_env.settings.board, from_env.settings.context) == (
        "gruvbox", "local", 12.0, 40.0, False, "prod")
    assert from_env.sources["refresh"] == "env NF_RUNS_REFRESH"
    assert from_env.sources["board_project"] == "file"  # (no variable for it)

    flags = {"theme": "dracula", "time_mode": "relative", "refresh": 3.0, "budget": 90.0,
             "board": True, "board_project": "web", "context": "dev"}
    from_flags = resolve(flags, env, path)
    assert from_flags.settings.refresh == 3.0 and from_flags.settings.theme == "dracula"
    assert from_flags.settings.board_project == "web"
    assert from_flags.sources["refresh"] == "flag --refresh"
    assert from_flags.sources["board_project"] == "flag --project"
    assert from_flags.sources["last_job"] == "file"


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("refresh", "soon", "number from 1 to 86400 seconds"),
    ("refresh", "0.5", "number from 1 to 86400 seconds"),
    ("budget", "0", "number in (0, 100] percent"),
    ("budget", "nan", "number in (0, 100] percent"),
    ("theme", "no-such-theme", "must be a Textual theme"),
    ("time_mode", "mars", "must be one of relative, local, utc"),
    ("board", "maybe", "true or false"),
])
def test_a_bad_variable_is_a_warning_and_the_next_layer_is_used(
    tmp_path: Path, name: str, value: str, shown: str
) -> None:
    key = next(key for key in KEYS if key.name == name)
    assert key.env is not None
    resolved = resolve({}, {key.env: value}, tmp_path / "none.toml")
    assert getattr(resolved.settings, name) == getattr(UserSettings(), name)
    (warning,) = resolved.warnings
    assert warning.startswith(f"${key.env} ") and shown in warning and "\n" not in warning


@pytest.mark.parametrize(("line", "key", "shown"), [
    ('refresh = "10"', "refresh", "(5)"),
    ("refresh = 0", "refresh", "(5)"),
    ("refresh = true", "refresh", "(5)"),
    ("budget = 150", "budget", "(50)"),
    ("budget = inf", "budget", "(50)"),
    ('theme = "\\u001b[31mred"', "theme", "(textual-dark)"),
    ("time_mode = 3", "time_mode", "(relative)"),
    ('board = "yes"', "board", "(false)"),
    ('board_project = "a/b"', "board_project", "(-)"),
    ('board_project = ".."', "board_project", "(-)"),
    ('context = ""', "context", "(-)"),
    ('last_job = "p/j"', "last_job", "(-)"),
    ('last_job = {project = "p"}', "last_job", "(-)"),
])
def test_a_bad_value_in_the_file_names_the_file_and_key_and_the_default_is_used(
    tmp_path: Path, line: str, key: str, shown: str
) -> None:
    path = _file(tmp_path, f'{line}\ntime_mode = "utc"\n' if key != "time_mode" else line)
    resolved = resolve({}, {}, path)
    assert getattr(resolved.settings, key) == getattr(UserSettings(), key)
    (warning,) = resolved.warnings
    assert str(path) in warning and f'"{key}"' in warning
    assert f"using the default {shown}" in warning
    assert "\n" not in warning and "\x1b" not in warning
    if key != "time_mode":
        assert resolved.settings.time_mode == "utc"  # the rest of the file still counts


def test_a_bad_file_value_under_a_variable_says_the_variable_is_used(tmp_path: Path) -> None:
    path = _file(tmp_path, "refresh = -1\n")
    (warning,) = resolve({}, {"NF_RUNS_REFRESH": "9"}, path).warnings
    assert '"refresh"' in warning and "env NF_RUNS_REFRESH is used" in warning


def test_unknown_keys_and_tokens_are_ignored_with_a_warning(tmp_path: Path) -> None:
    path = _file(tmp_path, f'refersh = 3\ntoken = "{SECRET}"\nrefresh = 8\n[nested]\nx = 1\n')
    resolved = resolve({}, {}, path)
    assert resolved.settings.refresh == 8.0
    warnings = resolved.warnings
    assert len(warnings) == 3 and all(str(path) in warning for warning in warnings)
    assert any('"refersh" is not a setting; ignored it' in warning for warning in warnings)
    assert any('"token" is not read from here' in warning for warning in warnings)
    assert not any(SECRET in warning for warning in warnings)


@pytest.mark.parametrize(("content", "words"), [
    (b"theme = \n", "is not valid TOML"),
    (b"[[[", "is not valid TOML"),
    (b"\xff\xfe\x00", "is not UTF-8 text"),
    (b"a = " + b"[" * 100_000, "is not valid TOML"),
    (b"x" * (1024 * 1024 + 1), "larger than 1024 KiB"),
])
def test_a_file_that_is_not_toml_is_one_line_and_the_defaults(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(content)
    resolved = resolve({"refresh": 7.0}, {}, path)
    assert resolved.settings == UserSettings(refresh=7.0)
    (warning,) = resolved.warnings
    assert str(path) in warning and words in warning and "using the defaults" in warning
    assert "\n" not in warning
    # Nor is it overwritten: it is the user's to fix.
    assert "not changed" in (SettingsFile(path).save(theme="nord") or "")
    assert path.read_bytes() == content


def test_a_directory_in_the_files_place(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.mkdir()
    (warning,) = resolve({}, {}, path).warnings
    assert "is a directory" in warning
    assert SettingsFile(path).save(theme="nord") is not None


def test_the_path_is_the_platforms_config_dir(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    if sys.platform.startswith("linux"):
        assert settings_path(env) == tmp_path / "xdg" / "nf-runs" / "settings.toml"
    assert settings_path({"HOME": "relative"}) in (None, settings_path({}))


# ----- writing ------------------------------------------------------------------------------


@given(st.dictionaries(
    st.text(min_size=1, max_size=20),
    st.one_of(st.text(max_size=40), st.booleans(), st.integers(-2**63, 2**63 - 1),
              st.floats(allow_nan=False),
              st.dictionaries(st.text(min_size=1, max_size=10),
                              st.one_of(st.text(max_size=20), st.integers(0, 9)), max_size=3)),
    max_size=6,
))
def test_the_writer_round_trips_through_tomllib(document: dict[str, object]) -> None:
    text = dumps(document, header="a header\nof two lines")
    assert tomllib.loads(text) == document
    assert all(char == "\n" or char.isprintable() for char in text)  # `cat` shows it all


def test_save_writes_atomically_0600_and_keeps_what_it_does_not_change(tmp_path: Path) -> None:
    path = _file(tmp_path, 'refresh = 30\nrefersh = 3\ncustom = "kept"\n'
                           f'api_token = "{SECRET}"\n[last_job]\nproject = "p"\njob = "j"\n')
    os.chmod(path, 0o644)
    saved = SettingsFile(path)
    assert saved.save(theme="nord", last_job=LastJob("p2", "j2", "prod")) is None
    document = tomllib.loads(path.read_text())
    assert document == {"refresh": 30, "refersh": 3, "custom": "kept", "theme": "nord",
                        "last_job": {"project": "p2", "job": "j2", "context": "prod"}}
    assert SECRET not in path.read_text()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [entry.name for entry in tmp_path.iterdir()] == ["settings.toml"]  # no temp left
    assert saved.save(board_project=None, time_mode="utc") is None
    assert tomllib.loads(path.read_text())["time_mode"] == "utc"
    with pytest.raises(ValueError):
        saved.save(token=SECRET)


def test_save_creates_the_directory_and_follows_a_symlink(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nf-runs" / "settings.toml"
    assert SettingsFile(path).save(board=True) is None
    assert tomllib.loads(path.read_text()) == {"board": True}
    if os.name == "posix":
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        real = tmp_path / "dotfiles.toml"
        real.write_text("refresh = 9\n")
        link = tmp_path / "link.toml"
        link.symlink_to(real)
        assert SettingsFile(link).save(theme="nord") is None
        assert link.is_symlink() and tomllib.loads(real.read_text()) == {
            "refresh": 9, "theme": "nord"}


def test_a_write_that_fails_leaves_the_file_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path, "refresh = 30\n")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(settings_module.os, "replace", broken)
    problem = SettingsFile(path).save(theme="nord")
    assert problem is not None and "No space left on device" in problem
    assert path.read_text() == "refresh = 30\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["settings.toml"]


def test_the_demo_keeps_only_theme_and_time_mode(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    demo = SettingsFile(path, only=("theme", "time_mode"))
    assert demo.save(last_job=LastJob("p", "j"), board=True) is None
    assert not path.exists()
    assert demo.save(theme="nord", board=True) is None
    assert tomllib.loads(path.read_text()) == {"theme": "nord"}


def test_read_file_of_nothing() -> None:
    assert read_file(None).values == {}


# ----- the job opened at the start ----------------------------------------------------------


def test_the_job_opened_at_the_start() -> None:
    last = UserSettings(last_job=LastJob("p", "j", "prod"))
    assert start_job(None, None, last, context="prod") == ("p", "j")
    # Another context's job would not be found here: the context's defaults instead.
    assert start_job(None, None, last, context="staging", defaults=("d", None)) == ("d", None)
    assert start_job("p", None, last, context="prod") == ("p", "j")  # --project P: its last
    assert start_job("q", None, last, context="prod") == ("q", None)
    assert start_job("p", "k", last, context="prod") == ("p", "k")
    board = UserSettings(board=True, board_project="p", last_job=LastJob("q", "j"))
    assert start_job(None, None, board, context=None) == ("p", None)


# ----- `nf-runs config` ---------------------------------------------------------------------


def _contexts(home: Path, *entries: dict[str, str], current: str = "prod") -> Path:
    path = home / ".northflank" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"current": current, "contexts": list(entries)}))
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_config_prints_the_path_and_where_each_setting_came_from(
    nf_runs: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None,  # noqa: F811
) -> None:
    _contexts(tmp_path, {"name": "prod", "token": SECRET, "host": "https://api.example.com"},
              {"name": "staging", "token": "other-secret"})
    path = tmp_path / ".config" / "nf-runs" / "settings.toml"
    path.parent.mkdir(parents=True)
    path.write_text('theme = "nord"\nrefresh = 20\n')
    monkeypatch.setenv("NF_RUNS_REFRESH", "15")
    result = nf_runs("config", "--budget", "30", home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Settings file: {path}"
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in lines[3:] if line.strip()}
    assert rows["theme"] == ["nord", "file"]
    assert rows["refresh"] == ["15", "env NF_RUNS_REFRESH"]
    assert rows["budget"] == ["30", "flag --budget"]
    assert rows["time_mode"] == ["relative", "default"]
    assert rows["context"] == ["prod", "Northflank CLI (its current context)"]
    assert rows["api_url"] == ["https://api.example.com", "Northflank CLI context prod"]
    assert rows["token"] == ["set", "Northflank CLI context prod"]
    assert "prod (current), staging" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert "other-secret" not in result.stdout + result.stderr


def test_config_json_and_a_token_from_the_environment(
    nf_runs: Cli, tmp_path: Path, clean_env: None,  # noqa: F811
) -> None:
    result = nf_runs("config", "--json", token=SECRET, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1  # one object a line, as the other --json
    document = json.loads(result.stdout)
    assert document["file"] == str(tmp_path / ".config" / "nf-runs" / "settings.toml")
    assert document["fileExists"] is False
    assert document["settings"]["token"] == {"value": "set", "source": "$NORTHFLANK_API_TOKEN"}
    assert document["settings"]["refresh"] == {"value": 5.0, "source": "default"}
    assert document["settings"]["last_job"] == {"value": None, "source": "default"}
    assert document["contexts"] == [] and document["warnings"] == []
    assert SECRET not in result.stdout + result.stderr
    bad_flag = nf_runs("config", "--theme", "nope", home=tmp_path)
    assert bad_flag.returncode == 2 and "not a theme: 'nope'" in bad_flag.stderr
    none = nf_runs("config", home=tmp_path)
    assert none.returncode == 0 and "not created yet" in none.stdout
    assert [line.split()[1:] for line in none.stdout.splitlines()
            if line.startswith("token")] == [["not", "set", "none", "found"]]


def test_config_shows_a_bad_file_as_warnings_and_still_prints(
    nf_runs: Cli, tmp_path: Path, clean_env: None,  # noqa: F811
) -> None:
    path = tmp_path / ".config" / "nf-runs" / "settings.toml"
    path.parent.mkdir(parents=True)
    path.write_text("refresh = [\n")
    result = nf_runs("config", home=tmp_path)
    assert result.returncode == 0
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("nf-runs: warning: ") and "is not valid TOML" in warning


def test_unknown_context_is_a_one_line_error_listing_the_names(
    nf_runs: Cli, tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    _contexts(tmp_path, {"name": "prod", "token": SECRET}, {"name": "staging", "token": SECRET})
    # The dashboard too, before it takes the terminal (here there is none: pretend).
    monkeypatch.setattr("tui.__main__.terminal_problem", lambda: None)
    monkeypatch.setattr("tui.__main__.tidy_environment", lambda: None)
    for args in (("--context", "nope", "config"), ("runs", "p", "j", "--context", "nope"),
                 ("--context", "nope")):
        result = nf_runs(*args, home=tmp_path)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        assert 'No Northflank CLI context "nope"' in line and "prod, staging" in line
        assert SECRET not in result.stdout + result.stderr and not result.stdout


def test_an_unknown_context_from_the_file_is_a_warning(
    nf_runs: Cli, tmp_path: Path, clean_env: None,  # noqa: F811
) -> None:
    _contexts(tmp_path, {"name": "prod", "token": SECRET})
    path = tmp_path / ".config" / "nf-runs" / "settings.toml"
    path.parent.mkdir(parents=True)
    path.write_text('context = "gone"\n')
    result = nf_runs("config", home=tmp_path)
    assert result.returncode == 0
    assert 'No Northflank CLI context "gone"' in result.stderr
    assert "using the current context" in result.stderr
    assert "Northflank CLI context prod" in result.stdout


def test_context_picks_its_token_and_host_over_the_environment(
    nf_runs: Cli, small_sim: Simulator, tmp_path: Path, clean_env: None,  # noqa: F811
) -> None:
    small_sim.world.add_project("ctx-project", "Context project")
    _contexts(tmp_path, {"name": "prod", "token": "wrong-token", "host": "http://127.0.0.1:9"},
              {"name": "sim", "token": small_sim.token, "host": small_sim.url})
    result = nf_runs("projects", "--context", "sim", token="env-token-refused", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ctx-project" in result.stdout
    assert small_sim.token not in result.stdout + result.stderr
    # Without --context the environment's token (refused here) goes to the current host.
    current = nf_runs("projects", "--api-url", small_sim.url, token="env-token-refused",
                      home=tmp_path)
    assert current.returncode == 1 and "401" in current.stderr
