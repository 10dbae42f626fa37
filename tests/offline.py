"""What the tests, the offline image builder and the benchmark share: the offline image names, free
loopback ports, and the environment that points the CLI at a project of its own."""

from __future__ import annotations

import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("gogs", "registry", "jenkins")


def offline_env() -> dict[str, str]:
    """compose/offline.env: the stand-in images for a host that cannot pull."""
    pairs = {}
    for line in (ROOT / "compose" / "offline.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports() -> dict[str, int]:
    return {service: free_port() for service in SERVICES}


def cli_env(project: str, state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """The caller's environment without its CI_STACK_* settings, plus the offline images and
    this project's name, state dir and ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_STACK_")}
    env.update(offline_env())
    env.update({"CI_STACK_PROJECT_NAME": project, "CI_STACK_STATE_DIR": str(state_dir)})
    env.update({f"CI_STACK_PORTS_{s.upper()}": str(p) for s, p in ports.items()})
    return env
