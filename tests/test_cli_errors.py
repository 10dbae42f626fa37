"""Bad input (issue 2, Done 4): one line naming the problem, exit status 2, no traceback, nothing changed."""

from __future__ import annotations

import socket

import pytest
from python_on_whales import docker

pytestmark = pytest.mark.integration


def assert_refused(result, *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("ci-stack: error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_nothing_changed(stack) -> None:
    assert not stack.state_dir.exists()
    assert docker.container.list(all=True, filters=[("label", f"com.docker.compose.project={stack.project}")]) == []


def test_unreachable_engine(make_stack):
    stack = make_stack(extra_env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert_refused(stack.run("up"), "Docker socket /nonexistent/docker.sock not found")
    stack.extra_env = {"DOCKER_HOST": "tcp://127.0.0.1:1"}
    assert_refused(stack.run("up"), "cannot reach the Docker engine")
    assert_nothing_changed(stack)


def test_port_in_use_names_service_and_port(make_stack):
    stack = make_stack()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack.ports["jenkins"]))
        squatter.listen()
        assert_refused(stack.run("up"), "jenkins", str(stack.ports["jenkins"]), "already in use")
    assert_nothing_changed(stack)


def test_unknown_config_key(make_stack, tmp_path):
    stack = make_stack()
    config = tmp_path / "bad.toml"
    config.write_text("[ports]\ngogs = 3000\njenkinz = 1\n")
    assert_refused(stack.run("--config", str(config), "up"), "unknown key 'jenkinz' in [ports]")
    assert_nothing_changed(stack)


def test_non_numeric_port(make_stack):
    stack = make_stack()
    stack.ports["registry"] = "five"
    assert_refused(stack.run("up"), "ports.registry", "'five' is not a port number")
    assert_nothing_changed(stack)


def test_unwritable_state_dir(make_stack, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    stack = make_stack()
    stack.state_dir = blocker / "state"
    assert_refused(stack.run("up"), "state dir", "is not a directory")
    assert docker.container.list(all=True, filters=[("label", f"com.docker.compose.project={stack.project}")]) == []


def test_debug_shows_the_traceback(make_stack):
    stack = make_stack()
    stack.ports["registry"] = "five"
    result = stack.run("--debug", "up")
    assert result.returncode == 2 and "Traceback" in result.stderr
