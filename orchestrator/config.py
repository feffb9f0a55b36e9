"""The one place that reads settings: CLI flag > environment > config file > default.

The config file is TOML: $HYBRID_NC_CONFIG, else $XDG_CONFIG_HOME (or ~/.config)/hybrid-nc/config.toml.

    [session]   renderer = "neural", theme = "dark", cols = 80, rows = 24, seed = 0,
                reasoners = ["shell", "sympy", "llm"], command_timeout = 30, unsafe_no_sandbox = false
    [llm]       url = "http://127.0.0.1:8000/v1", model = "...", api_key = "...", timeout = 60, ...
                (every field of reasoner.backends.llm.LLMSettings)
    [[rules]]   pattern = "^weather ", route = "llm"

Environment: HYBRID_NC_RENDERER, HYBRID_NC_THEME; HYBRID_NC_LLM_<FIELD> for every LLM setting
(HYBRID_NC_LLM_URL, _MODEL, _API_KEY, _TIMEOUT, ...), HYBRID_NC_CACHE (where the embedded model is
prepared) and HYBRID_NC_VLLM_VENV (the environment that runs vLLM). Empty variables are ignored.

The reasoners and renderers never read files or the environment: they take the dataclasses built
here (`llm_settings`) or keyword arguments (`session_overrides` -> SessionConfig).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, get_args, get_type_hints

from reasoner.backends.llm import LLMSettings


class ConfigError(ValueError):
    """A setting cannot be read or has a wrong value: one line naming it and where it came from."""


# session field -> (type, environment variable or None)
SESSION_FIELDS: dict[str, tuple[Any, str | None]] = {
    "renderer": (str, "HYBRID_NC_RENDERER"),
    "theme": (str, "HYBRID_NC_THEME"),
    "cols": (int, None),
    "rows": (int, None),
    "seed": (int, None),
    "reasoners": (tuple, None),
    "command_timeout": (float, None),
    "unsafe_no_sandbox": (bool, None),
}
LLM_ENV_PREFIX = "HYBRID_NC_LLM_"
# LLM settings whose variable is not HYBRID_NC_LLM_<FIELD>
LLM_ENV_NAMES = {"cache_dir": "HYBRID_NC_CACHE", "vllm_venv": "HYBRID_NC_VLLM_VENV"}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """$HYBRID_NC_CONFIG, else $XDG_CONFIG_HOME (or ~/.config)/hybrid-nc/config.toml."""
    env = os.environ if environ is None else environ
    if env.get("HYBRID_NC_CONFIG"):
        return Path(env["HYBRID_NC_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hybrid-nc" / "config.toml"


def load_file(path: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The config file as a dict ({} when absent). A file named by $HYBRID_NC_CONFIG must exist;
    an unreadable file or a section that is not a table is a ConfigError."""
    env = os.environ if environ is None else environ
    path = path or config_path(env)
    if not path.exists():
        if env.get("HYBRID_NC_CONFIG"):
            raise ConfigError(f"config file {path} (from HYBRID_NC_CONFIG) does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    for section in ("session", "llm"):
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"config file {path}: [{section}] must be a table")
    return data


def convert(name: str, value: Any, hint: Any, origin: str) -> Any:
    """An environment string or TOML value as the setting's type, or a ConfigError saying why."""
    allowed = get_args(hint)
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int and not isinstance(value, bool):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if hint is float and not isinstance(value, bool):
            return float(value)
        if hint is tuple:  # a TOML list or a comma-separated string
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise ValueError
            return tuple(i.strip() for i in items if i.strip())
        if allowed and all(isinstance(a, str) for a in allowed):  # a Literal of strings
            if str(value) not in allowed:
                raise ValueError
            return str(value)
        if hint in (str, str | None):
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    kinds = {bool: "true or false", int: "an integer", float: "a number",
             tuple: "a list of names"}
    kind = kinds.get(hint) or (f"one of {', '.join(allowed)}" if allowed and all(
        isinstance(a, str) for a in allowed) else "a string")
    raise ConfigError(f"setting {name}={value!r} from {origin} must be {kind}")


def _section(data: Mapping[str, Any], section: str, known: list[str], path: Path) -> dict[str, Any]:
    table = dict(data.get(section, {}))
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) in [{section}]: "
                          f"{', '.join(unknown)} (known: {', '.join(known)})")
    return table


def llm_settings(flags: Mapping[str, Any] | None = None, *, file: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> LLMSettings:
    """The LLM reasoner's settings. flags: LLMSettings field -> value from the command line or the
    caller (None = not given); then HYBRID_NC_LLM_<FIELD> (HYBRID_NC_CACHE, HYBRID_NC_VLLM_VENV);
    then [llm] of the config file (`file`: an already loaded one); then LLMSettings' defaults."""
    env = os.environ if environ is None else environ
    flags = dict(flags or {})
    hints = get_type_hints(LLMSettings)
    names = [f.name for f in fields(LLMSettings)]
    unknown = sorted(set(flags) - set(names))
    if unknown:
        raise ConfigError(f"unknown llm option(s): {', '.join(unknown)}")
    data = load_file(environ=env) if file is None else file
    table = _section(data, "llm", names, config_path(env))
    values: dict[str, Any] = {}
    for name in names:
        variable = LLM_ENV_NAMES.get(name, LLM_ENV_PREFIX + name.upper())
        if flags.get(name) is not None:
            values[name] = convert(name, flags[name], hints[name], "the command line")
        elif env.get(variable):
            values[name] = convert(name, env[variable], hints[name], variable)
        elif table.get(name) is not None:
            values[name] = convert(name, table[name], hints[name], "[llm]")
    return LLMSettings(**values)


def session_value(name: str, cli_value: Any = None,
                  environ: Mapping[str, str] | None = None) -> Any:
    """One session setting (e.g. "renderer"): the flag, else the environment, else [session],
    else None."""
    env = os.environ if environ is None else environ
    hint, variable = SESSION_FIELDS[name]
    if cli_value is not None:
        return convert(name, cli_value, hint, "the command line")
    if variable and env.get(variable):
        return convert(name, env[variable], hint, variable)
    table = _section(load_file(environ=env), "session", list(SESSION_FIELDS), config_path(env))
    value = table.get(name)
    return None if value is None else convert(name, value, hint, "[session]")


def session_overrides(cli: Mapping[str, Any], environ: Mapping[str, str] | None = None
                      ) -> dict[str, Any]:
    """SessionConfig keyword overrides from the command line (None = not given), merged with the
    environment and the config file: session fields, `llm` (an LLMSettings, from the llm_url /
    llm_model / llm_api_key flags and the rest) and `rules`."""
    env = os.environ if environ is None else environ
    data = load_file(environ=env)
    path = config_path(env)
    table = _section(data, "session", list(SESSION_FIELDS), path)
    out: dict[str, Any] = {}
    for name, (hint, variable) in SESSION_FIELDS.items():
        if cli.get(name) is not None:
            out[name] = convert(name, cli[name], hint, "the command line")
        elif variable and env.get(variable):
            out[name] = convert(name, env[variable], hint, variable)
        elif table.get(name) is not None:
            out[name] = convert(name, table[name], hint, "[session]")
    out["llm"] = llm_settings({"url": cli.get("llm_url"), "model": cli.get("llm_model"),
                               "api_key": cli.get("llm_api_key")}, file=data, environ=env)
    rules = data.get("rules", [])
    if rules:
        try:
            out["rules"] = tuple((str(r["pattern"]), str(r["route"])) for r in rules)
        except (KeyError, TypeError):
            raise ConfigError("each [[rules]] entry needs pattern and route") from None
    return out
