"""Stack configuration: built-in defaults < config file < CI_STACK_<SECTION>_<KEY> < flags.

Every key is declared once in SCHEMA; `ci-stack init` and the README's table come from it too.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ci_stack.errors import ConfigError

SERVICES = ("gogs", "registry", "jenkins")
DEFAULT_PROJECT_NAME = "ci-stack"
CONFIG_FILE_NAME = "ci-stack.toml"


def _port(value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{value!r} is not a port number (1-65535)")
    return int(text)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _ip(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def _text(value: Any) -> str:
    if not isinstance(value, (str, int)):
        raise ValueError(f"{value!r} is not a string")
    return str(value).strip()


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,38}$")


def _name(value: Any) -> str:
    text = _text(value)
    if not _NAME.match(text):
        raise ValueError(f"{value!r} is not a valid name (letters, digits, '-', '_', '.')")
    return text


def _email(value: Any) -> str:
    text = _text(value)
    if not re.match(r"^[^@\s]+@[^@\s]+$", text):
        raise ValueError(f"{value!r} is not an email address")
    return text


@dataclass(frozen=True)
class Key:
    default: Any
    parse: Callable[[Any], Any]
    help: str


# Pins: see ../shared/reference/PINS.md. Exact versions, never `latest`.
SCHEMA: dict[str, dict[str, Key]] = {
    "images": {
        "gogs": Key("gogs/gogs:next-0.14.3", _text, "Gogs image (the non-root `next` image, uid 1000)"),
        "registry": Key("registry:3.1.1", _text, "Distribution registry image (registry:2 and registry:3 both work)"),
        "jenkins": Key("", _text, "Jenkins image to use as it is; empty = build ci-stack's own from jenkins_base"),
        "jenkins_base": Key("jenkins/jenkins:2.580.3-lts-jdk21", _text, "Jenkins LTS image the built image starts FROM"),
        "docker_cli": Key("docker:29.7.2-cli", _text, "Image the docker CLI, Compose and buildx are copied from"),
    },
    "ports": {
        "gogs": Key(3000, _port, "Host port for Gogs"),
        "registry": Key(5000, _port, "Host port for the registry"),
        "jenkins": Key(8080, _port, "Host port for Jenkins"),
    },
    "network": {
        "bind": Key("127.0.0.1", _ip, "Host address every published port binds to"),
    },
    "admin": {
        "username": Key("ciadmin", _name, "Admin user of Gogs and Jenkins ('admin' is reserved in Gogs)"),
        "email": Key("ciadmin@ci-stack.local", _email, "Admin email in Gogs"),
    },
    "gogs": {
        "org": Key("ci", _name, "Gogs organization that holds CI projects"),
        "bot": Key("jenkins", _name, "Gogs bot user Jenkins clones with"),
    },
    "registry": {
        "auth": Key(False, _bool, "Require htpasswd (bcrypt) credentials for the registry"),
    },
}


@dataclass(frozen=True)
class Settings:
    """Where a run reads and writes: project name, state dir and the config file it came from."""

    project_name: str
    state_dir: Path
    config_file: Path | None


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, dict[str, Any]]
    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    @property
    def bind(self) -> str:
        return self.values["network"]["bind"]

    def port(self, service: str) -> int:
        return self.values["ports"][service]

    def host_url(self, service: str) -> str:
        """The published URL of a service, as a user on this host opens it."""
        host = self.bind
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port(service)}"

    @property
    def registry_username(self) -> str | None:
        """The registry's only user when `[registry] auth` is on: the admin."""
        return self.get("admin", "username") if self.get("registry", "auth") else None

    @property
    def builds_jenkins(self) -> bool:
        return not self.values["images"]["jenkins"]


def env_var_name(section: str, key: str) -> str:
    return f"CI_STACK_{section.upper()}_{key.upper()}"


def default_state_dir(project_name: str) -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "ci-stack" / project_name


def resolve_settings(config_file: str | None, project_name: str | None, state_dir: str | None) -> Settings:
    """Flags arrive here already merged with their environment variables by click."""
    name = _parse_or_fail("--project-name", project_name or DEFAULT_PROJECT_NAME, _compose_project_name)
    config_path = Path(config_file) if config_file else None
    if config_path is None and Path(CONFIG_FILE_NAME).is_file():
        config_path = Path(CONFIG_FILE_NAME)
    if config_path is not None and not config_path.is_file():
        raise ConfigError(f"config file {config_path} does not exist")
    state = Path(state_dir).expanduser() if state_dir else default_state_dir(name)
    return Settings(project_name=name, state_dir=state.absolute(), config_file=config_path)


def _compose_project_name(value: str) -> str:
    if not re.match(r"^[a-z0-9][a-z0-9_-]*$", value):
        raise ValueError(f"{value!r} is not a Compose project name (lowercase letters, digits, '-', '_')")
    return value


def _parse_or_fail(where: str, value: Any, parse: Callable[[Any], Any]) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for section, keys in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(SCHEMA)})")
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: '{section}' must be a [section]")
        for key in keys:
            if key not in SCHEMA[section]:
                raise ConfigError(f"{path}: unknown key '{key}' in [{section}] (known: {', '.join(SCHEMA[section])})")
    return data


def _check_environment(environ: dict[str, str]) -> None:
    """A typo such as CI_STACK_PORTS_GOG is an error, not something silently ignored."""
    for name in environ:
        for section, keys in SCHEMA.items():
            prefix = f"CI_STACK_{section.upper()}_"
            if name.startswith(prefix) and name[len(prefix):].lower() not in keys:
                raise ConfigError(f"unknown environment variable {name} (known in [{section}]: "
                                  + ", ".join(env_var_name(section, k) for k in keys) + ")")


def load(settings: Settings, environ: dict[str, str] | None = None) -> StackConfig:
    environ = dict(os.environ if environ is None else environ)
    _check_environment(environ)
    file_data = _read_file(settings.config_file) if settings.config_file else {}
    values: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for section, keys in SCHEMA.items():
        values[section] = {}
        for key, spec in keys.items():
            dotted = f"{section}.{key}"
            value, source = spec.default, "default"
            if key in file_data.get(section, {}):
                value, source = file_data[section][key], str(settings.config_file)
            if env_var_name(section, key) in environ:
                value, source = environ[env_var_name(section, key)], env_var_name(section, key)
            values[section][key] = _parse_or_fail(f"{dotted} (from {source})", value, spec.parse)
            sources[dotted] = source
    _check_distinct_ports(values["ports"])
    return StackConfig(values=values, settings=settings, sources=sources)


def _check_distinct_ports(ports: dict[str, int]) -> None:
    seen: dict[int, str] = {}
    for service, port in ports.items():
        if port in seen:
            raise ConfigError(f"ports.{service} and ports.{seen[port]} are both {port}")
        seen[port] = service


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def init_file_text() -> str:
    """A commented ci-stack.toml holding every key at its default."""
    lines = ["# ci-stack configuration. Every key can also be set as CI_STACK_<SECTION>_<KEY>;",
             "# precedence: flag > environment > this file > built-in default."]
    for section, keys in SCHEMA.items():
        lines += ["", f"[{section}]"]
        for key, spec in keys.items():
            lines += [f"# {spec.help} ({env_var_name(section, key)})", f"{key} = {_toml_value(spec.default)}"]
    return "\n".join(lines) + "\n"
