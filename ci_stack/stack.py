"""What the commands do, below the CLI: render, up, status, down and credentials for one stack.

status, down, logs and credentials run many times a day, in scripts: they import only the engine.
Rendering (jinja2) and configuring (requests, bcrypt) are imported by the commands that need them.
"""

from __future__ import annotations

import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ci_stack.config import SERVICES, StackConfig
from ci_stack.engine import ContainerInfo, Engine
from ci_stack.errors import OperationFailed
from ci_stack.state import GENERATED, StateDir
from ci_stack.steps import Outcome, Reporter, Runner, Step

if TYPE_CHECKING:
    from ci_stack.render import RenderedFile


class Stack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.state = StateDir(config.settings.state_dir)

    @cached_property
    def engine(self) -> Engine:
        return Engine(self.config)

    # -- render ----------------------------------------------------------------------------

    def rendered_files(self) -> list[RenderedFile]:
        from ci_stack import render
        from ci_stack.services.registry import htpasswd_content

        username = self.config.registry_username
        htpasswd = None
        if username:
            current_path = self.state.root / "registry" / "htpasswd"
            current = current_path.read_text() if current_path.is_file() else None
            htpasswd = htpasswd_content(username, self.state.read_secret("registry-password"), current)
        return render.render_stack(self.config, self.state, htpasswd)

    def render(self, output: Path | None = None) -> Path:
        """`ci-stack render`: secrets are generated first so every rendered file is complete."""
        from ci_stack.render import write_rendered

        target = output or self.state.root
        self.state.ensure()
        self.state.ensure_generated_secrets()
        files = self.rendered_files()
        target.mkdir(parents=True, exist_ok=True)
        write_rendered(files, target)
        return target

    # -- up --------------------------------------------------------------------------------

    def preflight(self) -> dict[str, ContainerInfo]:
        """Every check that can fail on bad input or environment, before anything is changed.
        Returns the project's containers as they are now (listing them proves the engine answers)."""
        from ci_stack.render import docker_socket_gid

        self.state.check_writable()
        docker_socket_gid()
        self.engine.check_compose()
        before = self.engine.containers()
        self.engine.check_ports_free(before)
        return before

    def up(self, reporter: Reporter, timeout: float, configure: bool = True) -> Runner:
        before = self.preflight()
        runner = Runner(reporter)
        deadline = time.monotonic() + timeout
        remaining = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
        steps = [Step("state.secrets", self._ensure_secrets), Step("render", self._render_step)]
        if self.config.builds_jenkins:
            steps.append(Step("jenkins.image", self._ensure_jenkins_image))
        steps.append(Step("compose.up", lambda: self._start(before)))
        runner.run(steps)
        if configure:
            runner.run_parallel(self.configuration_chains(remaining))
        runner.run([Step("compose.healthy", lambda: self._wait_healthy(remaining()))])
        return runner

    def configuration_chains(self, remaining) -> list[list[Step]]:
        from ci_stack.services.gogs import GogsConfigurator
        from ci_stack.services.jenkins import JenkinsConfigurator
        from ci_stack.services.registry import RegistryConfigurator

        gogs = GogsConfigurator(self.config, self.state, self.engine)
        registry = RegistryConfigurator(self.config, self.state, self.engine)
        jenkins = JenkinsConfigurator(self.config, self.state)
        credentials = {"gogs": (self.config.get("gogs", "bot"), self.state.read_secret("gogs-bot-password"))}
        if registry.auth:
            credentials["registry"] = registry.auth
        return [gogs.steps(remaining()), registry.steps(remaining()), jenkins.steps(remaining(), credentials)]

    def _ensure_secrets(self) -> Outcome:
        self.state.ensure()
        created = self.state.ensure_generated_secrets()
        if not created:
            return Outcome.UNCHANGED
        return Outcome.CREATED if len(created) == len(GENERATED) else Outcome.UPDATED

    def _render_step(self) -> Outcome:
        from ci_stack.render import write_rendered

        first = not (self.state.root / "compose.yaml").exists()
        changed = write_rendered(self.rendered_files(), self.state.root)
        if first:
            return Outcome.CREATED
        return Outcome.UPDATED if changed else Outcome.UNCHANGED

    def _ensure_jenkins_image(self) -> Outcome:
        image = self.engine.docker.compose.config().services["jenkins"].image
        if self.engine.image_exists(image):
            return Outcome.UNCHANGED
        self.engine.build("jenkins")
        return Outcome.CREATED

    def _start(self, before: dict[str, ContainerInfo]) -> Outcome:
        self.engine.up()
        after = self.engine.container_ids()
        if not before:
            return Outcome.CREATED
        return Outcome.UNCHANGED if {s: c.id for s, c in before.items()} == after else Outcome.UPDATED

    def _wait_healthy(self, timeout: float) -> Outcome:
        from ci_stack.http import wait_until

        def all_healthy() -> bool:
            states = self.engine.service_states()
            broken = [s.service for s in states if s.state not in ("running", "missing") or s.health == "unhealthy"]
            if broken:
                raise OperationFailed(f"{', '.join(broken)} stopped or unhealthy: see `ci-stack logs {broken[0]}`")
            return all(s.ok for s in states)
        wait_until(all_healthy, timeout, "every container healthy", "compose")
        return Outcome.OK

    # -- other commands --------------------------------------------------------------------

    def status(self):
        return self.engine.service_states()

    def down(self, volumes: bool) -> None:
        self.engine.check_available()
        self.engine.down(volumes)

    def credentials(self) -> dict[str, dict[str, str | None]]:
        admin = self.config.get("admin", "username")
        secret = self.state.read_secret
        registry_user = self.config.registry_username
        return {
            "gogs": {"url": self.config.host_url("gogs"), "username": admin,
                     "password": secret("gogs-admin-password"), "token": secret("gogs-token")},
            "jenkins": {"url": self.config.host_url("jenkins"), "username": admin,
                        "password": secret("jenkins-admin-password"), "token": secret("jenkins-token")},
            "registry": {"url": self.config.host_url("registry"), "username": registry_user,
                         "password": secret("registry-password") if registry_user else None},
        }

    def service_urls(self) -> dict[str, str]:
        return {service: self.config.host_url(service) for service in SERVICES}
