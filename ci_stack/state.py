"""The state dir: its layout, generated secrets (mode 0600) and atomic file writes.

Layout (one place knows it):
    <state>/compose.yaml, gogs/, registry/, jenkins/   rendered files
    <state>/secrets/<name>                             one secret per file, 0600, in a 0700 dir
"""

from __future__ import annotations

import os
import secrets as random_source
import tempfile
from pathlib import Path

from ci_stack.errors import StateDirError

SECRETS_DIR = "secrets"

# Secrets generated on first run and reused ever after.
GENERATED = {
    "gogs-admin-password": 24,
    "gogs-bootstrap-password": 24,
    "gogs-bot-password": 24,
    "gogs-secret-key": 32,
    "jenkins-admin-password": 24,
    "registry-password": 24,
}


def write_atomically(path: Path, content: str, mode: int = 0o644) -> bool:
    """Write through a temp file + rename so a killed run never leaves half a file. Returns changed."""
    if path.exists() and path.read_text() == content:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


class StateDir:
    def __init__(self, root: Path):
        self.root = root

    @property
    def secrets_dir(self) -> Path:
        return self.root / SECRETS_DIR

    def check_writable(self) -> None:
        """Fail before changing anything when the state dir cannot be created or written."""
        probe = self.root
        while not probe.exists():
            probe = probe.parent
        if not probe.is_dir():
            raise StateDirError(f"state dir {self.root}: {probe} is not a directory")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise StateDirError(f"state dir {self.root} is not writable ({probe} denies write access)")

    def ensure(self) -> None:
        self.check_writable()
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.secrets_dir.mkdir(exist_ok=True, mode=0o700)
            self.secrets_dir.chmod(0o700)
        except OSError as exc:
            raise StateDirError(f"cannot create state dir {self.root}: {exc.strerror}") from None

    def secret_path(self, name: str) -> Path:
        return self.secrets_dir / name

    def read_secret(self, name: str) -> str | None:
        try:
            return self.secret_path(name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def write_secret(self, name: str, value: str) -> None:
        write_atomically(self.secret_path(name), value + "\n", mode=0o600)

    def ensure_generated_secrets(self) -> list[str]:
        """Create any missing generated secret; returns the names created."""
        created = []
        for name, length in GENERATED.items():
            if self.read_secret(name) is None:
                self.write_secret(name, random_source.token_urlsafe(length))
                created.append(name)
        return created
