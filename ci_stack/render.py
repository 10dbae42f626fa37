"""Render every file the stack runs from (Compose file and service configs) with Jinja2."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ci_stack import __version__
from ci_stack.config import StackConfig
from ci_stack.errors import BadInput
from ci_stack.resources import templates_dir
from ci_stack.state import StateDir, write_atomically

# uid:gid the services' own images run as (gogs `git`, jenkins `jenkins`).
CONTAINER_UID = 1000


@dataclass(frozen=True)
class RenderedFile:
    relative_path: str
    content: str
    holds_secret: bool = False
    container_reads: bool = False  # a secret file a non-root container user must be able to read

    @property
    def mode(self) -> int:
        return 0o600 if self.holds_secret else 0o644


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def docker_socket_path() -> Path:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return Path(host[len("unix://"):])
    return Path("/var/run/docker.sock")


def docker_socket_gid() -> int:
    socket = docker_socket_path()
    try:
        return socket.stat().st_gid
    except OSError:
        raise BadInput(f"Docker socket {socket} not found: Jenkins drives the host engine through it") from None


def jenkins_image_tag(dockerfile: str, plugins: str) -> str:
    digest = hashlib.sha256((dockerfile + "\0" + plugins).encode()).hexdigest()[:12]
    return f"ci-stack/jenkins:{digest}"


def render_stack(config: StackConfig, state: StateDir, htpasswd: str | None = None) -> list[RenderedFile]:
    env = environment()
    images = config.values["images"]
    plugins = (templates_dir() / "jenkins" / "plugins.txt").read_text()
    dockerfile = env.get_template("jenkins/Dockerfile.j2").render(images=images)
    bind = config.bind
    context = {
        "version": __version__,
        "project": config.settings.project_name,
        "images": images,
        "ports": config.values["ports"],
        "bind_literal": f"[{bind}]" if ":" in bind else bind,
        "builds_jenkins": config.builds_jenkins,
        "jenkins_image": jenkins_image_tag(dockerfile, plugins) if config.builds_jenkins else images["jenkins"],
        "docker_socket": str(docker_socket_path()),
        "docker_socket_gid": docker_socket_gid(),
        "registry_auth": config.get("registry", "auth"),
        "admin_username": config.get("admin", "username"),
        "admin_email": config.get("admin", "email"),
        "gogs_external_url": config.host_url("gogs"),
        "jenkins_external_url": config.host_url("jenkins"),
        "gogs_secret_key": state.read_secret("gogs-secret-key"),
        "jenkins_admin_password": state.read_secret("jenkins-admin-password"),
    }
    files = [
        RenderedFile("compose.yaml", env.get_template("compose.yaml.j2").render(context)),
        RenderedFile("gogs/app.ini", env.get_template("gogs/app.ini.j2").render(context),
                     holds_secret=True, container_reads=True),
        RenderedFile("registry/registry.env", env.get_template("registry/registry.env.j2").render(context)),
        RenderedFile("jenkins/Dockerfile", dockerfile),
        RenderedFile("jenkins/plugins.txt", plugins),
        RenderedFile("jenkins/casc.yaml", env.get_template("jenkins/casc.yaml.j2").render(context)),
        RenderedFile("jenkins/jenkins.env", env.get_template("jenkins/jenkins.env.j2").render(context), holds_secret=True),
    ]
    if htpasswd is not None:
        files.append(RenderedFile("registry/htpasswd", htpasswd))
    return files


def write_rendered(files: list[RenderedFile], output: Path) -> list[str]:
    """Write the files under `output`; returns the relative paths whose content changed."""
    changed = []
    for rendered in files:
        path = output / rendered.relative_path
        if write_atomically(path, rendered.content, rendered.mode):
            changed.append(rendered.relative_path)
        if rendered.container_reads and os.geteuid() == 0:
            # Root owns the state dir; hand the file to the container's non-root user, keeping 0600.
            os.chown(path, CONTAINER_UID, CONTAINER_UID)
    return changed
