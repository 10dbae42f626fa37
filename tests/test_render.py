"""Rendering (issue 2, Done 2): valid Compose, Jenkins socket access, loopback ports, secrets in place."""

from __future__ import annotations

import configparser
import shutil

import pytest
import yaml
from python_on_whales import DockerClient

from ci_stack import config, render
from ci_stack.stack import Stack

SECRET_HOLDERS = {"gogs/app.ini": {"gogs-secret-key"}, "jenkins/jenkins.env": {"jenkins-admin-password"}}


@pytest.fixture(autouse=True)
def remove_state_dir(tmp_path):
    """The rendered state dir holds generated secrets: it goes with the test, not with pytest's
    retention of old temporary folders."""
    yield
    shutil.rmtree(tmp_path / "state", ignore_errors=True)


def rendered(tmp_path, environ=None) -> Stack:
    settings = config.Settings(project_name="render-test", state_dir=tmp_path / "state", config_file=None)
    stack = Stack(config.load(settings, environ=environ or {}))
    stack.render()
    return stack


def compose_of(stack: Stack) -> dict:
    return yaml.safe_load((stack.state.root / "compose.yaml").read_text())


def test_compose_file_passes_docker_compose_config(tmp_path):
    stack = rendered(tmp_path)
    client = DockerClient(compose_files=[stack.state.root / "compose.yaml"], compose_project_name="render-test")
    parsed = client.compose.config(return_json=True)
    assert set(parsed["services"]) == {"gogs", "registry", "jenkins"}


def test_jenkins_gets_the_socket_and_its_group_not_root(tmp_path):
    jenkins = compose_of(rendered(tmp_path))["services"]["jenkins"]
    assert f"{render.docker_socket_path()}:/var/run/docker.sock" in jenkins["volumes"]
    assert jenkins["group_add"] == [str(render.docker_socket_gid())]
    assert "user" not in jenkins or jenkins["user"] not in ("root", "0")
    assert jenkins["build"]["context"] == "./jenkins"  # no [images] jenkins: built from the rendered Dockerfile


def test_named_jenkins_image_is_used_as_is(tmp_path):
    jenkins = compose_of(rendered(tmp_path, {"CI_STACK_IMAGES_JENKINS": "example/jenkins:1"}))["services"]["jenkins"]
    assert jenkins["image"] == "example/jenkins:1" and "build" not in jenkins


def test_no_port_on_all_interfaces_by_default(tmp_path):
    for service in compose_of(rendered(tmp_path))["services"].values():
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), port


def test_secrets_only_where_they_must_be(tmp_path):
    stack = rendered(tmp_path)
    secrets = {p.name: p.read_text().strip() for p in stack.state.secrets_dir.iterdir()}
    for path in stack.state.root.rglob("*"):
        if not path.is_file() or path.parent == stack.state.secrets_dir:
            continue
        relative = str(path.relative_to(stack.state.root))
        allowed = SECRET_HOLDERS.get(relative, set())
        for name, value in secrets.items():
            assert (value in path.read_text()) == (name in allowed), f"{name} in {relative}"
        if allowed:
            assert path.stat().st_mode & 0o777 == 0o600


def test_secret_files_are_private_and_reused(tmp_path):
    stack = rendered(tmp_path)
    first = {p.name: p.read_text() for p in stack.state.secrets_dir.iterdir()}
    assert stack.state.secrets_dir.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in stack.state.secrets_dir.iterdir())
    stack.render()
    assert {p.name: p.read_text() for p in stack.state.secrets_dir.iterdir()} == first


def test_gogs_app_ini_skips_the_installer(tmp_path):
    ini = configparser.ConfigParser(strict=False)
    ini.optionxform = str
    ini.read_string("[top]\n" + (rendered(tmp_path).state.root / "gogs" / "app.ini").read_text())
    assert ini["security"]["INSTALL_LOCK"] == "true"
    assert ini["security"]["LOCAL_NETWORK_ALLOWLIST"] == "jenkins"
    assert ini["auth"]["DISABLE_REGISTRATION"] == "true"
    assert ini["database"]["TYPE"] == "sqlite3"
    assert "ROOT_URL" not in ini["server"] and ini["server"]["EXTERNAL_URL"].startswith("http://127.0.0.1:3000")


def test_registry_auth_mounts_a_bcrypt_htpasswd(tmp_path):
    stack = rendered(tmp_path, {"CI_STACK_REGISTRY_AUTH": "true"})
    registry = compose_of(stack)["services"]["registry"]
    assert "./registry/htpasswd:/auth/htpasswd:ro" in [v for v in registry["volumes"] if isinstance(v, str)]
    line = (stack.state.root / "registry" / "htpasswd").read_text()
    assert line.split(":", 1)[1].startswith("$2b$")
    before = line
    stack.render()
    assert (stack.state.root / "registry" / "htpasswd").read_text() == before  # kept while it matches


@pytest.mark.parametrize("pin", ["jenkins/jenkins:2.580.3-lts-jdk21", "docker:29.7.2-cli"])
def test_jenkins_dockerfile_is_pinned(tmp_path, pin):
    dockerfile = (rendered(tmp_path).state.root / "jenkins" / "Dockerfile").read_text()
    assert pin in dockerfile and "--latest=false" in dockerfile and "docker-buildx" in dockerfile


def test_gogs_admin_cli_gets_flag_values_a_dash_cannot_break():
    """A generated bootstrap password may start with "-": as a separate argument the CLI would
    read it as a flag, so every value goes in `--flag=value` form."""
    from ci_stack.services.gogs import GogsConfigurator

    class RecordingEngine:
        def exec_in(self, service, command, user=None):
            self.command = command

    configurator = GogsConfigurator.__new__(GogsConfigurator)
    configurator.admin, configurator.email, configurator.engine = "ciadmin", "a@example.com", RecordingEngine()
    configurator._create_admin_with_cli("-starts-with-a-dash")
    assert configurator.engine.command[1:] == ["admin", "create-user", "--name=ciadmin",
                                                "--password=-starts-with-a-dash", "--email=a@example.com", "--admin"]
