"""Every Docker and Compose call, through python-on-whales, configured once for the stack.

Other modules ask questions ("which containers of this project run?") and get typed answers.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from ci_stack.config import SERVICES, StackConfig
from ci_stack.errors import BadInput, EngineUnavailable, OperationFailed, PortInUse

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str  # running, exited, ... or "missing"
    health: str  # healthy, starting, unhealthy, "none" (no health check) or "missing"
    container_id: str | None
    url: str

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health == "healthy"


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    service: str
    state: str
    health: str  # healthy, starting, unhealthy or "none" (no health check)
    host_ports: frozenset[int]


def _snapshot(container) -> ContainerInfo:
    """Every field read at once: python-on-whales inspects a container again whenever its cached
    result is older than 10 ms, so reading fields later would cost one `docker inspect` each."""
    state = container.state
    ports = container.network_settings.ports or {}
    return ContainerInfo(
        container.id, container.config.labels.get(SERVICE_LABEL), state.status,
        state.health.status if state.health else "none",
        frozenset(int(b["HostPort"]) for bindings in ports.values() for b in bindings or []))


def first_line(exc: DockerException) -> str:
    text = (exc.stderr or exc.stdout or str(exc)).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {exc.return_code}"


class Engine:
    def __init__(self, config: StackConfig, compose_dir: Path | None = None):
        self.config = config
        self.project = config.settings.project_name
        compose_dir = compose_dir or config.settings.state_dir
        self.compose_file = compose_dir / "compose.yaml"
        self.docker = DockerClient(
            compose_files=[self.compose_file],
            compose_project_name=self.project,
            compose_project_directory=compose_dir,
        )

    @property
    def _project_filter(self) -> list[tuple[str, str]]:
        return [("label", f"{PROJECT_LABEL}={self.project}")]

    # -- questions -------------------------------------------------------------------------

    def check_available(self) -> None:
        try:
            self.docker.system.info()
        except DockerException as exc:
            raise EngineUnavailable(f"cannot reach the Docker engine: {first_line(exc)}") from None
        except FileNotFoundError:
            raise EngineUnavailable("the docker CLI is not installed") from None
        self.check_compose()

    def check_compose(self) -> None:
        try:
            self.docker.compose.version()
        except DockerException:
            raise EngineUnavailable("Docker Compose v2 is not installed (the `docker compose` CLI plugin)") from None
        except FileNotFoundError:
            raise EngineUnavailable("the docker CLI is not installed") from None

    def containers(self) -> dict[str, ContainerInfo]:
        """The project's containers by service name, found by label so it works without the files."""
        try:
            found = self.docker.container.list(all=True, filters=self._project_filter)
            return {info.service: info for info in map(_snapshot, found)}
        except (DockerException, FileNotFoundError) as exc:
            # Commands that only look skip the up-front engine check; a failure is explained here.
            self.check_available()
            detail = first_line(exc) if isinstance(exc, DockerException) else str(exc)
            raise OperationFailed(f"listing the containers failed: {detail}") from None

    def container_ids(self) -> dict[str, str]:
        return {service: c.id for service, c in self.containers().items()}

    def service_states(self) -> list[ServiceState]:
        containers = self.containers()
        states = []
        for service in SERVICES:
            url = self.config.host_url(service)
            container = containers.get(service)
            if container is None:
                states.append(ServiceState(service, "missing", "missing", None, url))
                continue
            states.append(ServiceState(service, container.state, container.health, container.id, url))
        return states

    def check_ports_free(self, containers: dict[str, ContainerInfo]) -> None:
        """Fail before starting anything when a port we publish is taken by something else."""
        ours = {port for container in containers.values() for port in container.host_ports}
        for service in SERVICES:
            port = self.config.port(service)
            if port in ours:
                continue
            if _port_taken(self.config.bind, port):
                raise PortInUse(service, self.config.bind, port)

    def image_exists(self, image: str) -> bool:
        return self.docker.image.exists(image)

    # -- changes ---------------------------------------------------------------------------

    def build(self, service: str) -> None:
        self._compose("build", lambda: self.docker.compose.build([service]))

    def up(self) -> None:
        self._compose("up", lambda: self.docker.compose.up(detach=True, quiet=True, no_build=True))

    def down(self, volumes: bool) -> None:
        if self.compose_file.is_file():
            self._compose("down", lambda: self.docker.compose.down(volumes=volumes, quiet=True, remove_orphans=True))
            return
        # The rendered files are gone (state dir removed): clean up by label instead.
        for container in self.containers().values():
            self.docker.container.remove(container.id, force=True, volumes=volumes)
        for network in self.docker.network.list(filters=self._project_filter):
            network.remove()
        if volumes:
            for volume in self.docker.volume.list(filters=self._project_filter):
                volume.remove()

    def logs(self, services: list[str], follow: bool, tail: int | None) -> Iterator[str]:
        stream = self.docker.compose.logs(services or None, follow=follow, tail=str(tail) if tail is not None else None,
                                          stream=True)
        for _source, chunk in stream:
            yield chunk.decode(errors="replace")

    def exec_in(self, service: str, command: list[str], user: str | None = None,
                env_files: list[Path] | None = None) -> str:
        container = self.containers().get(service)
        if container is None:
            raise OperationFailed(f"{service} has no container: run `ci-stack up`")
        return self.docker.container.execute(container.id, command, user=user, env_files=env_files or ())

    def _compose(self, verb: str, call) -> None:
        try:
            call()
        except DockerException as exc:
            raise OperationFailed(f"docker compose {verb} failed: {first_line(exc)}") from None


def _port_taken(bind: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            if exc.errno == errno.EADDRNOTAVAIL:
                raise BadInput(f"[network] bind: {bind} is not an address of this host") from None
            raise
    return False
