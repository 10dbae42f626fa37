"""Issue 2, against the real engine: up, status, idempotent re-run, down keeps data, down --volumes."""

from __future__ import annotations

import json

import pytest
import requests
from python_on_whales import docker

from conftest import step_outcomes

pytestmark = pytest.mark.integration


def container_ids(project: str) -> dict[str, str]:
    found = docker.container.list(all=True, filters=[("label", f"com.docker.compose.project={project}")])
    return {c.config.labels["com.docker.compose.service"]: c.id for c in found}


def volumes(project: str) -> set[str]:
    return {v.name for v in docker.volume.list(filters=[("label", f"com.docker.compose.project={project}")])}


def push_marker_image(stack, tag: str) -> str:
    reference = f"localhost:{stack.ports['registry']}/lifecycle/marker:{tag}"
    docker.image.tag(stack.env()["PYTHON_IMAGE"], reference)
    docker.image.push(reference, quiet=True)
    docker.image.remove(reference)
    return reference


def test_up_status_rerun_down_keeps_data_down_volumes(make_stack):
    stack = make_stack()
    volumes_before = {v.name for v in docker.volume.list()}

    first = stack.run("up", "--timeout", "300")
    assert first.returncode == 0, first.stdout + first.stderr

    status = stack.run("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)
    assert [(r["service"], r["state"], r["health"]) for r in rows] == [
        ("gogs", "running", "healthy"), ("registry", "running", "healthy"), ("jenkins", "running", "healthy")]
    assert rows[0]["url"] == stack.url("gogs")

    ids = container_ids(stack.project)
    second = stack.run("up", "--timeout", "300")
    assert second.returncode == 0, second.stdout + second.stderr
    assert container_ids(stack.project) == ids
    assert step_outcomes(second.stdout)["compose.up"] == "unchanged"
    assert "nothing recreated" in second.stdout

    push_marker_image(stack, "v1")
    kept = volumes(stack.project)
    assert len(kept) == 4  # gogs data and backup, registry data, jenkins home

    down = stack.run("down")
    assert down.returncode == 0, down.stderr
    assert container_ids(stack.project) == {}
    assert volumes(stack.project) == kept

    again = stack.run("up", "--timeout", "300")
    assert again.returncode == 0, again.stdout + again.stderr
    listed = requests.get(f"{stack.url('registry')}/v2/lifecycle/marker/tags/list", timeout=10).json()
    assert listed["tags"] == ["v1"]

    gone = stack.run("down", "--volumes", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert container_ids(stack.project) == {}
    assert volumes(stack.project) == set()
    # Nothing anonymous either (an image's VOLUME without a mount would leave one at every recreate).
    assert {v.name for v in docker.volume.list()} - volumes_before == set()
