"""Shared fixtures: the real CLI in a subprocess, and stacks that always clean up after themselves."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from offline import cli_env, free_ports

CLI = [sys.executable, "-m", "ci_stack"]


def start_server(command: list, url: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start a double in-process on loopback and wait (bounded) until it answers HTTP."""
    import requests

    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            return server
        except requests.ConnectionError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"{command} did not answer on {url}: see {log}")


@dataclass
class StackUnderTest:
    """One test's stack: its own project name, state dir and free ports."""

    state_dir: Path
    workdir: Path  # the CLI's working directory (no ci-stack.toml there)
    project: str = field(default_factory=lambda: f"cistest-{secrets.token_hex(4)}")
    ports: dict[str, int] = field(default_factory=free_ports)
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = cli_env(self.project, self.state_dir, self.ports)
        env.update(self.extra_env)
        return env

    def run(self, *args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], env=self.env(), capture_output=True, text=True, timeout=timeout,
                              cwd=self.workdir, **kwargs)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*CLI, *args], env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=self.workdir)

    def secret(self, name: str) -> str:
        return (self.state_dir / "secrets" / name).read_text().strip()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def teardown(self) -> None:
        self.run("down", "--volumes", "--yes", timeout=120)
        self.remove_pushed_images()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def remove_pushed_images(self) -> None:
        """Local tags of images pushed to this stack's registry (push-pull checks, pipelines)."""
        from python_on_whales import docker

        prefix = f"localhost:{self.ports['registry']}/"
        tags = [tag for image in docker.image.list() for tag in image.repo_tags if tag.startswith(prefix)]
        if tags:
            docker.image.remove(tags, force=True)


@pytest.fixture
def make_stack(tmp_path):
    """Stacks made through this fixture are torn down (containers, networks, volumes, state)."""
    made: list[StackUnderTest] = []

    def make(**kwargs) -> StackUnderTest:
        stack = StackUnderTest(state_dir=tmp_path / f"state-{len(made)}", workdir=tmp_path, **kwargs)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.teardown()


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory):
    """One stack brought up once and shared by a module's read-mostly tests."""
    workdir = tmp_path_factory.mktemp("stack")
    stack = StackUnderTest(state_dir=workdir / "state", workdir=workdir)
    try:
        yield stack
    finally:
        stack.teardown()


def step_outcomes(output: str) -> dict[str, str]:
    """`  created   gogs.admin   ...` lines of `ci-stack up` as {step: outcome}."""
    outcomes = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("created", "updated", "unchanged", "ok"):
            outcomes[words[1]] = words[0]
    return outcomes
