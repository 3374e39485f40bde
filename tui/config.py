"""Token and settings resolution.

The token comes from the first of: `--token-file PATH`, env `NORTHFLANK_API_TOKEN` (or
`NF_API_TOKEN`), the current context of the Northflank CLI's `~/.northflank/config.json`,
then nf-runs' own config file. The base URL from `--api-url`, env `NORTHFLANK_API_URL`, the
CLI context's `host`, nf-runs' config, else the public API.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api.client import DEFAULT_API_URL, check_base_url
from .api.errors import ConfigError

TOKEN_ENV_VARS = ("NORTHFLANK_API_TOKEN", "NF_API_TOKEN")
URL_ENV_VAR = "NORTHFLANK_API_URL"

NO_TOKEN_HELP = (
    "No Northflank API token found. Provide one of:\n"
    "  --token-file PATH               a file holding the token\n"
    "  NORTHFLANK_API_TOKEN=...        (or NF_API_TOKEN) in the environment\n"
    "  northflank login                the Northflank CLI's saved context\n"
    "  {config}  with {{\"token\": \"...\"}}\n"
    "or try the demo, no account needed:  nf-runs --demo"
)


def app_config_dir() -> Path:
    """The platform's config directory for nf-runs."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "nf-runs"


def app_config_path() -> Path:
    return app_config_dir() / "config.json"


def northflank_cli_config_path() -> Path:
    return Path.home() / ".northflank" / "config.json"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"Cannot read {path}: {type(error).__name__}") from None
    return data if isinstance(data, dict) else {}


def cli_context(path: Path | None = None) -> dict[str, Any]:
    """The Northflank CLI's current context, or {} when there is none."""
    config = _read_json(path or northflank_cli_config_path())
    current = config.get("current")
    contexts = config.get("contexts")
    if not isinstance(contexts, list):
        return {}
    for context in contexts:
        if isinstance(context, dict) and context.get("name") == current:
            return context
    return {}


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class Settings:
    """What the app and the CLI need to reach the API. `repr` never shows the token."""

    api_url: str
    token: str | None
    token_source: str
    team: str | None = None
    project: str | None = None
    job: str | None = None

    def __repr__(self) -> str:
        token = "set" if self.token else "none"
        return (
            f"Settings(api_url={self.api_url!r}, token={token}, source={self.token_source!r}, "
            f"team={self.team!r}, project={self.project!r}, job={self.job!r})"
        )

    def require_token(self) -> str:
        if not self.token:
            raise ConfigError(NO_TOKEN_HELP.format(config=app_config_path()))
        return self.token


def resolve_settings(
    *,
    api_url: str | None = None,
    token_file: str | None = None,
    team: str | None = None,
    env: dict[str, str] | None = None,
    cli_config: Path | None = None,
    app_config: Path | None = None,
) -> Settings:
    """Resolve the token, URL, team and default project/job; the first source found wins."""
    environ = dict(os.environ) if env is None else env
    context = cli_context(cli_config)
    own = _read_json(app_config or app_config_path())

    token: str | None = None
    source = "none"
    if token_file:
        try:
            token = Path(token_file).expanduser().read_text(encoding="utf-8").strip() or None
        except OSError as error:
            raise ConfigError(
                f"Cannot read the token file {token_file}: {error.strerror}"
            ) from None
        if token is None:
            raise ConfigError(f"The token file {token_file} is empty")
        source = f"token file {token_file}"
    if token is None:
        for name in TOKEN_ENV_VARS:
            if _text(environ.get(name)):
                token, source = _text(environ.get(name)), f"${name}"
                break
    if token is None and _text(context.get("token")):
        token, source = _text(context.get("token")), "Northflank CLI context"
    if token is None and _text(own.get("token")):
        token, source = _text(own.get("token")), str(app_config or app_config_path())

    url = (
        _text(api_url)
        or _text(environ.get(URL_ENV_VAR))
        or _text(context.get("host"))
        or _text(own.get("api_url"))
        or DEFAULT_API_URL
    )
    if "://" not in url:
        url = "https://" + url
    url = check_base_url(url)
    return Settings(
        api_url=url,
        token=token,
        token_source=source,
        team=team or _text(own.get("team")),
        project=_text(context.get("project")),
        job=_text(context.get("job")),
    )
