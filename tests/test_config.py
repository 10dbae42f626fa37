"""Config precedence and validation (unit)."""

from __future__ import annotations

import tomllib

import pytest

from ci_stack import config
from ci_stack.errors import ConfigError


def settings(tmp_path, text: str | None = None) -> config.Settings:
    path = None
    if text is not None:
        path = tmp_path / "ci-stack.toml"
        path.write_text(text)
    return config.Settings(project_name="p", state_dir=tmp_path / "state", config_file=path)


def test_defaults(tmp_path):
    loaded = config.load(settings(tmp_path), environ={})
    assert loaded.port("gogs") == 3000 and loaded.port("registry") == 5000 and loaded.port("jenkins") == 8080
    assert loaded.bind == "127.0.0.1"
    assert loaded.get("registry", "auth") is False
    assert "latest" not in " ".join(str(v) for v in loaded.values["images"].values())


def test_precedence_file_then_environment(tmp_path):
    text = "[ports]\ngogs = 3100\njenkins = 8100\n"
    loaded = config.load(settings(tmp_path, text), environ={"CI_STACK_PORTS_JENKINS": "8200"})
    assert loaded.port("gogs") == 3100
    assert loaded.port("jenkins") == 8200
    assert loaded.sources["ports.jenkins"] == "CI_STACK_PORTS_JENKINS"


@pytest.mark.parametrize("text, message", [
    ("[ports]\ngog = 1\n", "unknown key 'gog' in [ports]"),
    ("[nope]\nx = 1\n", "unknown section [nope]"),
    ("[ports]\ngogs = 'abc'\n", "ports.gogs"),
    ("[network]\nbind = 'localhost:1'\n", "not an IP address"),
    ("[registry]\nauth = 'maybe'\n", "not true or false"),
    ("[ports]\ngogs = 5000\n", "both 5000"),
    ("not toml [", "not valid TOML"),
])
def test_bad_file_is_named(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config.load(settings(tmp_path, text), environ={})


def test_unknown_environment_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="CI_STACK_PORTS_GOG"):
        config.load(settings(tmp_path), environ={"CI_STACK_PORTS_GOG": "1"})


def test_environment_port_must_be_numeric(tmp_path):
    with pytest.raises(ConfigError, match="'abc' is not a port number"):
        config.load(settings(tmp_path), environ={"CI_STACK_PORTS_GOGS": "abc"})


def test_init_file_holds_every_key_at_its_default(tmp_path):
    parsed = tomllib.loads(config.init_file_text())
    for section, keys in config.SCHEMA.items():
        for key, spec in keys.items():
            assert parsed[section][key] == spec.default
            assert config.env_var_name(section, key) in config.init_file_text()


def test_project_name_is_checked():
    with pytest.raises(ConfigError, match="Compose project name"):
        config.resolve_settings(None, "Bad Name", None)
