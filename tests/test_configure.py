"""Issue 3: `up` configures Gogs, the registry and Jenkins through their APIs, idempotently."""

from __future__ import annotations

import json
import signal
import time

import pytest
import requests
from python_on_whales import docker

from conftest import step_outcomes

pytestmark = pytest.mark.integration
TOKENS = ("gogs-token", "jenkins-token", "jenkins-notify-token")


def changing_steps(output: str) -> dict[str, str]:
    return {step: outcome for step, outcome in step_outcomes(output).items() if outcome != "ok"}


def gogs_tokens(stack) -> list[str]:
    admin = (stack.env().get("CI_STACK_ADMIN_USERNAME") or "ciadmin")
    listed = requests.get(f"{stack.url('gogs')}/api/v1/users/{admin}/tokens", timeout=10,
                          auth=(admin, stack.secret("gogs-admin-password")))
    assert listed.status_code == 200
    return [t["name"] for t in listed.json()]


def jenkins_credential_ids(stack) -> list[str]:
    listed = requests.get(f"{stack.url('jenkins')}/credentials/store/system/domain/_/api/json?depth=1", timeout=10,
                          auth=("ciadmin", stack.secret("jenkins-token")))
    assert listed.status_code == 200
    return [c["id"] for c in listed.json()["credentials"]]


@pytest.fixture(scope="module")
def configured(module_stack):
    first = module_stack.run("up", "--timeout", "300")
    assert first.returncode == 0, first.stdout + first.stderr
    return module_stack, first


def test_fresh_up_creates_every_step(configured):
    stack, first = configured
    steps = changing_steps(first.stdout)
    assert set(steps.values()) == {"created"}, steps
    assert {"gogs.admin", "gogs.token", "gogs.org", "gogs.bot", "jenkins.token", "jenkins.notify-token",
            "jenkins.credentials.gogs"} <= set(steps)
    user = requests.get(f"{stack.url('gogs')}/api/v1/user", timeout=10,
                        headers={"Authorization": f"token {stack.secret('gogs-token')}"})
    assert user.status_code == 200 and user.json()["username"] == "ciadmin"
    assert requests.get(f"{stack.url('jenkins')}/api/json", timeout=10,
                        auth=("ciadmin", stack.secret("jenkins-token"))).status_code == 200
    assert jenkins_credential_ids(stack) == ["gogs"]


def test_four_more_runs_change_nothing(configured):
    stack, _ = configured
    for run in range(2, 6):
        result = stack.run("up", "--timeout", "300")
        assert result.returncode == 0, result.stdout + result.stderr
        assert set(changing_steps(result.stdout).values()) == {"unchanged"}, (run, result.stdout)
    assert gogs_tokens(stack) == ["ci-stack"]
    assert requests.get(f"{stack.url('gogs')}/api/v1/orgs/ci", timeout=10).status_code == 200
    assert requests.get(f"{stack.url('gogs')}/api/v1/users/jenkins", timeout=10).status_code == 200
    assert jenkins_credential_ids(stack) == ["gogs"]


def test_lost_tokens_are_replaced_and_converge(configured):
    stack, _ = configured
    for name in TOKENS:
        (stack.state_dir / "secrets" / name).unlink()
    result = stack.run("up", "--timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    steps = changing_steps(result.stdout)
    assert steps["gogs.token"] == steps["jenkins.token"] == steps["jenkins.notify-token"] == "created"
    assert gogs_tokens(stack) == ["ci-stack", "ci-stack-2"]  # Gogs never shows the old one again
    again = stack.run("up", "--timeout", "300")
    assert set(changing_steps(again.stdout).values()) == {"unchanged"}, again.stdout


def test_only_the_credentials_command_prints_secrets(configured):
    stack, _ = configured
    secrets = [p.read_text().strip() for p in (stack.state_dir / "secrets").iterdir()]
    commands = [("up", "--timeout", "300"), ("status",), ("status", "--json"), ("render",),
                ("logs", "--tail", "200"), ("credentials",), ("--help",)]
    for command in commands:
        result = stack.run(*command)
        leaked = [s for s in secrets if s in result.stdout + result.stderr]
        if command == ("credentials",):
            assert leaked, "credentials shows the secrets"
        else:
            assert not leaked, command
    shown = json.loads(stack.run("credentials", "--json").stdout)
    assert shown["gogs"]["token"] == stack.secret("gogs-token")
    assert shown["jenkins"] == {"url": stack.url("jenkins"), "username": "ciadmin",
                                "password": stack.secret("jenkins-admin-password"), "token": stack.secret("jenkins-token")}
    assert shown["registry"] == {"url": stack.url("registry"), "username": None, "password": None}


def gogs_sql(stack, statement: str) -> None:
    container = docker.container.list(filters=[("label", f"com.docker.compose.project={stack.project}"),
                                               ("label", "com.docker.compose.service=gogs")])[0]
    docker.container.execute(container, ["python3", "-c", "import sqlite3, sys; db = sqlite3.connect("
                                         "'/data/gogs/data/gogs.db'); db.execute(sys.argv[1]); db.commit()", statement])


def test_unexpected_answer_stops_up_with_one_line(make_stack):
    stack = make_stack()
    assert stack.run("up", "--timeout", "300").returncode == 0
    secrets_before = {p.name: p.read_text() for p in (stack.state_dir / "secrets").iterdir()}
    # The admin lost its rights and the bot is gone: creating the bot answers 403.
    gogs_sql(stack, "UPDATE user SET is_admin = 0 WHERE name = 'ciadmin'")
    gogs_sql(stack, "DELETE FROM user WHERE name = 'jenkins'")
    result = stack.run("up", "--timeout", "300")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ci-stack: error:")]
    assert errors == ["ci-stack: error: gogs: POST /api/v1/admin/users failed: HTTP 403"], result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_text() for p in (stack.state_dir / "secrets").iterdir()} == secrets_before


def test_killed_up_converges_next_time(make_stack):
    """SIGKILL `up` at every step boundary of a fresh configuration; the next `up` converges."""
    kill_points = ["compose.up", "gogs.admin", "gogs.token", "gogs.org", "jenkins.token", "jenkins.notify-token"]
    converged = []
    for point in kill_points:
        stack = make_stack()
        process = stack.popen("up", "--timeout", "300")
        deadline = time.monotonic() + 300
        for line in process.stdout:
            if point in line.split() or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        result = stack.run("up", "--timeout", "300")
        again = stack.run("up", "--timeout", "300")
        if result.returncode == 0 and set(changing_steps(again.stdout).values()) == {"unchanged"}:
            converged.append(point)
        stack.teardown()
    print(f"kill points: {len(kill_points)}, converged: {len(converged)}")
    assert converged == kill_points
