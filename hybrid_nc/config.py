"""Settings precedence in one place: CLI flag > environment > config file > default.

The config file is TOML: $HYBRID_NC_CONFIG, else ~/.config/hybrid-nc/config.toml. Sections:

    [session]   renderer = "neural", theme = "dark", cols = 80, rows = 24, seed = 0,
                reasoners = ["shell", "sympy"], command_timeout = 30
    [llm]       url = "http://127.0.0.1:8000/v1", model = "...", api_key = "..."
    [[rules]]   pattern = "^weather ", route = "llm"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

ENV = {
    ("llm", "url"): "HYBRID_NC_LLM_URL",
    ("llm", "model"): "HYBRID_NC_LLM_MODEL",
    ("llm", "api_key"): "HYBRID_NC_LLM_API_KEY",
    ("session", "renderer"): "HYBRID_NC_RENDERER",
    ("session", "theme"): "HYBRID_NC_THEME",
}


class ConfigError(ValueError):
    """The config file cannot be read or has a wrong value."""


def config_path() -> Path:
    env = os.environ.get("HYBRID_NC_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hybrid-nc" / "config.toml"


def load_file(path: Path | None = None) -> dict[str, Any]:
    """The config file as a dict ({} when absent); ConfigError when unreadable."""
    path = path or config_path()
    if not path.exists():
        if os.environ.get("HYBRID_NC_CONFIG"):
            raise ConfigError(f"config file {path} (from HYBRID_NC_CONFIG) does not exist")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None


def resolve(section: str, key: str, cli_value: Any = None, default: Any = None,
            file: dict[str, Any] | None = None) -> Any:
    """One setting: the CLI value if given, else the environment, else the file, else default."""
    if cli_value is not None:
        return cli_value
    env = ENV.get((section, key))
    if env and os.environ.get(env):
        return os.environ[env]
    data = load_file() if file is None else file
    value = data.get(section, {}).get(key)
    return default if value is None else value


def session_overrides(cli: dict[str, Any]) -> dict[str, Any]:
    """SessionConfig fields from CLI values (None = not given) merged with env and file."""
    data = load_file()
    out: dict[str, Any] = {}
    for field_name in ("renderer", "theme", "cols", "rows", "seed", "reasoners",
                       "command_timeout", "unsafe_no_sandbox"):
        value = resolve("session", field_name, cli.get(field_name), None, data)
        if value is not None:
            out[field_name] = tuple(value) if field_name == "reasoners" else value
    for field_name, key in (("llm_url", "url"), ("llm_model", "model"), ("llm_api_key", "api_key")):
        value = resolve("llm", key, cli.get(field_name), None, data)
        if value is not None:
            out[field_name] = value
    rules = data.get("rules", [])
    if rules:
        try:
            out["rules"] = tuple((str(r["pattern"]), str(r["route"])) for r in rules)
        except (KeyError, TypeError):
            raise ConfigError("each [[rules]] entry needs pattern and route") from None
    if out.get("llm_url") and "reasoners" not in out:
        out["reasoners"] = ("shell", "sympy", "llm")
    return out
