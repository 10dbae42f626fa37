"""The distribution registry: API checks, optional htpasswd auth and a push/pull smoke test."""

from __future__ import annotations

import io
import ipaddress
import secrets
import tarfile
import tempfile
from pathlib import Path

import bcrypt
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from ci_stack.config import StackConfig
from ci_stack.engine import Engine, first_line
from ci_stack.errors import ServiceError
from ci_stack.http import ServiceClient, answers, wait_until
from ci_stack.state import StateDir
from ci_stack.steps import Outcome, Step

SERVICE = "registry"
API_VERSION_HEADER = "Docker-Distribution-API-Version"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
SMOKE_REPOSITORY = "ci-stack/smoke"


def smoke_image_tarball(directory: Path, token: str) -> Path:
    """A one-file image for the push/pull check: it proves the path through the host engine in a
    fraction of a second, where pushing a real image would spend seconds moving layers."""
    content = f"ci-stack registry check {token}\n".encode()
    entry = tarfile.TarInfo("ci-stack-registry-check")
    entry.size = len(content)
    path = directory / "smoke.tar"
    with tarfile.open(path, "w") as tar:
        tar.addfile(entry, io.BytesIO(content))
    return path


def registry_auth(config: StackConfig, state: StateDir) -> tuple[str, str] | None:
    username = config.registry_username
    return (username, state.read_secret("registry-password")) if username else None


def image_tags(config: StackConfig, state: StateDir, repository: str) -> list[str]:
    """The repository's tags, newest build first; none when the registry has never seen it."""
    client = ServiceClient(SERVICE, config.host_url(SERVICE))
    found = client.request("GET", f"/v2/{repository}/tags/list", expect=(200, 404), auth=registry_auth(config, state))
    tags = (found.json().get("tags") or []) if found.status_code == 200 else []
    return sorted(tags, key=lambda tag: (not tag.startswith("build-"), -int(tag[6:]) if tag[6:].isdigit() else 0, tag))


def htpasswd_content(username: str, password: str, current: str | None) -> str:
    """A bcrypt htpasswd line (the only hash the registry accepts); the current file is kept while
    it still matches, so a re-run does not touch the file the registry watches."""
    if current:
        user, _, hashed = current.strip().partition(":")
        if user == username and hashed and bcrypt.checkpw(password.encode(), hashed.encode()):
            return current
    return f"{username}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n"


def push_host(config: StackConfig) -> str:
    """How the host engine reaches the registry: loopback needs no `insecure-registries`."""
    bind = ipaddress.ip_address(config.bind)
    host = "localhost" if bind.is_loopback or bind.is_unspecified else config.bind
    return f"{host}:{config.port(SERVICE)}"


class RegistryConfigurator:
    def __init__(self, config: StackConfig, state: StateDir, engine: Engine):
        self.config, self.state, self.engine = config, state, engine
        self.client = ServiceClient(SERVICE, config.host_url(SERVICE))

    @property
    def auth(self) -> tuple[str, str] | None:
        return registry_auth(self.config, self.state)

    def steps(self, timeout: float) -> list[Step]:
        return [
            Step("registry.ready", lambda: self.wait_ready(timeout)),
            Step("registry.api", self.check_api),
            Step("registry.push-pull", self.check_push_pull),
        ]

    def wait_ready(self, timeout: float) -> Outcome:
        url = self.client.base_url + "/"
        wait_until(lambda: answers(self.client.session, url, lambda r: r.status_code == 200), timeout, "GET / = 200", SERVICE)
        return Outcome.OK

    def check_api(self) -> Outcome:
        anonymous = self.client.request("GET", "/v2/", expect=(200, 401))
        if anonymous.headers.get(API_VERSION_HEADER) != "registry/2.0":
            raise ServiceError(SERVICE, "GET /v2/", f"no '{API_VERSION_HEADER}: registry/2.0' header")
        if self.auth is None:
            if anonymous.status_code != 200:
                raise ServiceError(SERVICE, "GET /v2/", "HTTP 401 although [registry] auth is off")
            return Outcome.OK
        if anonymous.status_code != 401:
            raise ServiceError(SERVICE, "GET /v2/", f"HTTP {anonymous.status_code} without credentials although auth is on")
        self.client.request("GET", "/v2/", auth=self.auth)
        return Outcome.OK

    def check_push_pull(self) -> Outcome:
        """Push and pull through the host engine, as Jenkins pipelines will, then clean up."""
        tag = secrets.token_hex(4)
        target = f"{push_host(self.config)}/{SMOKE_REPOSITORY}:{tag}"
        with tempfile.TemporaryDirectory(prefix="ci-stack-registry-check-") as workdir:
            # A private client config: the login never lands in the user's ~/.docker/config.json.
            docker = DockerClient(config=Path(workdir) / "docker-config")
            try:
                if self.auth:
                    docker.login(push_host(self.config), username=self.auth[0], password=self.auth[1])
                docker.image.import_(smoke_image_tarball(Path(workdir), tag), tag=target)
                docker.image.push(target, quiet=True)
                docker.image.remove(target)
                docker.image.pull(target, quiet=True)
                docker.image.remove(target)
            except DockerException as exc:
                raise ServiceError(SERVICE, f"push/pull of {target}", first_line(exc)) from None
        self._delete_manifest(target.rsplit(":", 1)[1])
        return Outcome.OK

    def _delete_manifest(self, tag: str) -> None:
        path = f"/v2/{SMOKE_REPOSITORY}/manifests"
        head = self.client.request("HEAD", f"{path}/{tag}", auth=self.auth, headers={"Accept": MANIFEST_TYPES})
        self.client.request("DELETE", f"{path}/{head.headers['Docker-Content-Digest']}", expect=(202,), auth=self.auth)
