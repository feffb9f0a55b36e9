"""orchestrator/config.py: the one resolver, CLI flag > environment > config file > default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import ConfigError, llm_settings, session_overrides, session_value
from reasoner.backends.llm import LLMSettings
from reasoner.base import ReasonerError


def test_llm_settings_precedence_flag_env_file_default(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[llm]\nurl = "http://file:1/v1"\nmodel = "file-model"\napi_key = "file-key"\n'
                   "timeout = 7\nsimulate_programs = true\n")
    env = {"HYBRID_NC_CONFIG": str(cfg), "HYBRID_NC_LLM_MODEL": "env-model",
           "HYBRID_NC_LLM_URL": "http://env:2/v1", "HYBRID_NC_LLM_RETRIES": "5",
           "HYBRID_NC_CACHE": "/tmp/hnc-cache-x", "HYBRID_NC_VLLM_VENV": "/opt/v"}
    s = llm_settings({"url": "http://flag:3/v1", "model": None}, environ=env)
    assert s.url == "http://flag:3/v1"          # flag beats env and file
    assert s.model == "env-model"               # env beats file
    assert s.retries == 5 and isinstance(s.retries, int)
    assert s.api_key == "file-key" and s.timeout == 7.0 and s.simulate_programs is True
    assert (s.cache_dir, s.vllm_venv) == ("/tmp/hnc-cache-x", "/opt/v")
    assert s.max_tokens == LLMSettings().max_tokens   # default
    # an empty environment variable does not hide the file's value
    assert llm_settings(environ={**env, "HYBRID_NC_LLM_MODEL": ""}).model == "file-model"
    # no config anywhere: the defaults, i.e. the embedded model
    none = llm_settings(environ={"XDG_CONFIG_HOME": str(tmp_path / "none")})
    assert none == LLMSettings() and none.embedded


@pytest.mark.parametrize(("setup", "expected"), [
    ({"env": {"HYBRID_NC_LLM_TIMEOUT": "soon"}}, "HYBRID_NC_LLM_TIMEOUT"),
    ({"file": "[llm]\nurl = \n"}, "cannot read config file"),
    ({"file": "[llm]\ncolour = 'red'\n"}, "unknown key(s) in [llm]: colour"),
    ({"file": "llm = 3\n"}, "[llm] must be a table"),
    ({"file": "[llm]\nretries = 'many'\n"}, "retries='many' from [llm] must be an integer"),
    ({"flags": {"engine": "cloud"}}, "engine='cloud' from the command line must be one of"),
    ({"flags": {"url": "localhost:8000"}}, "url must look like http://HOST:PORT/v1"),
    ({"flags": {"timeout": 0}}, "timeout must be > 0"),
    ({"env": {"HYBRID_NC_CONFIG": "/nonexistent/hnc.toml"}}, "does not exist"),
])
def test_bad_llm_settings_are_one_line_errors(tmp_path: Path, setup: dict[str, Any],
                                              expected: str) -> None:
    env = dict(setup.get("env", {}))
    if "file" in setup:
        cfg = tmp_path / "config.toml"
        cfg.write_text(setup["file"])
        env["HYBRID_NC_CONFIG"] = str(cfg)
    env.setdefault("XDG_CONFIG_HOME", str(tmp_path / "none"))
    with pytest.raises((ConfigError, ReasonerError)) as info:
        llm_settings(setup.get("flags", {}), environ=env)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_session_overrides(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[session]\ncols = 100\nreasoners = ["shell", "sympy"]\ntheme = "light"\n'
                   '[llm]\ntimeout = 9\n[[rules]]\npattern = "^w "\nroute = "llm"\n')
    env = {"HYBRID_NC_CONFIG": str(cfg), "HYBRID_NC_THEME": "xterm"}
    out = session_overrides({"rows": 30, "llm_url": "http://x:1/v1"}, environ=env)
    assert (out["cols"], out["rows"], out["theme"]) == (100, 30, "xterm")
    assert out["reasoners"] == ("shell", "sympy") and out["rules"] == (("^w ", "llm"),)
    assert out["llm"].url == "http://x:1/v1" and out["llm"].timeout == 9.0
    assert session_value("cols", environ=env) == 100 and session_value("seed", environ=env) is None
    cfg.write_text("[session]\ncols = 'wide'\n")
    with pytest.raises(ConfigError, match="cols='wide' from \\[session\\] must be an integer"):
        session_overrides({}, environ=env)
