"""Issue 4: `seed-repo` puts a demo project through the whole CI loop.

Against the running stack with the doubles: the repository, the job, the webhook, a push that
reaches Jenkins through the webhook, and idempotent re-runs. Against the real engine and the real
registry: the project's own ci/ scripts, run the way the Jenkins container runs them.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
from python_on_whales import docker
from python_on_whales.exceptions import DockerException

from conftest import step_outcomes
from offline import offline_env

pytestmark = pytest.mark.integration
SEED_STEPS = ("seed.repo", "seed.bot-access", "seed.push", "seed.job", "seed.webhook")
ASKPASS = '#!/bin/sh\ncase "$1" in Username*) printf %s "$GIT_USER";; *) printf %s "$GIT_PASSWORD";; esac\n'


# -- helpers -------------------------------------------------------------------------------

def jenkins_get(stack, path: str) -> requests.Response:
    return requests.get(stack.url("jenkins") + path, auth=("ciadmin", stack.secret("jenkins-token")), timeout=10)


def gogs_hooks(stack, name: str) -> list[dict]:
    found = requests.get(f"{stack.url('gogs')}/api/v1/repos/ci/{name}/hooks", timeout=10,
                         headers={"Authorization": f"token {stack.secret('gogs-token')}"})
    assert found.status_code == 200
    return found.json()


def job_names(stack) -> list[str]:
    return [job["name"] for job in jenkins_get(stack, "/api/json").json()["jobs"]]


def job_state(stack, name: str) -> dict:
    return jenkins_get(stack, f"/job/{name}/api/json").json()


def registry_tags(stack, repository: str, auth=None) -> list[str]:
    found = requests.get(f"{stack.url('registry')}/v2/{repository}/tags/list", timeout=10, auth=auth)
    return sorted(found.json().get("tags") or []) if found.status_code == 200 else []


class HostGit:
    """git on the test host, as the admin, with the password only in the environment."""

    def __init__(self, stack, workdir: Path):
        askpass = workdir / "askpass.sh"
        askpass.write_text(ASKPASS)
        askpass.chmod(0o700)
        self.env = {**os.environ, "GIT_ASKPASS": str(askpass), "GIT_TERMINAL_PROMPT": "0",
                    "GIT_USER": "ciadmin", "GIT_PASSWORD": stack.secret("gogs-admin-password"),
                    "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
                    "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com"}

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def heads(self, url: str) -> dict[str, str]:
        lines = self(*["ls-remote", "--heads", url]).splitlines()
        return {ref: sha for sha, ref in (line.split("\t") for line in lines)}


def run_pipeline(stack, name: str, build_number: str, env_dir: Path, prepare: str = "",
                 scripts=("verify", "build", "test", "push"), extra_env: dict | None = None) -> tuple[bool, str]:
    """Clone the seeded repository from Gogs and run its ci/ scripts the way the Jenkins container
    does: uid 1000, the host's Docker socket mounted, the socket's group added, on the stack's network."""
    env_file = env_dir / f"pipeline-{name}-{build_number}.env"
    env_file.write_text(f"GIT_USER=jenkins\nGIT_PASSWORD={stack.secret('gogs-bot-password')}\n"
                        f"REGISTRY=localhost:{stack.ports['registry']}\nBUILD_NUMBER={build_number}\n"
                        f"PYTHON_IMAGE={offline_env()['PYTHON_IMAGE']}\n"
                        + "".join(f"{key}={value}\n" for key, value in (extra_env or {}).items()))
    env_file.chmod(0o600)
    steps = " && ".join(f"ci/{script}.sh" for script in scripts)
    script = ("exec 2>&1 && "  # one stream: python-on-whales returns only stdout
              f"printf '%s' '{ASKPASS}' > /tmp/askpass && chmod 700 /tmp/askpass && "
              f"GIT_ASKPASS=/tmp/askpass git clone -q http://gogs:3000/ci/{name}.git work && cd work && "
              f"{prepare or 'true'} && {steps}; verdict=$?; "
              # Like the Jenkinsfile's post { always }: the test project and the e2e image go.
              "ci/cleanup.sh >/dev/null 2>&1; exit $verdict")
    socket = "/var/run/docker.sock"
    try:
        output = docker.run(offline_env()["PIPELINE_AGENT_IMAGE"], ["bash", "-c", script], remove=True,
                            user="1000:1000", groups_add=[str(os.stat(socket).st_gid)],
                            volumes=[(socket, socket)], networks=[f"{stack.project}_ci"], env_files=[env_file])
        return True, output
    except DockerException as exc:
        return False, (exc.stdout or "") + (exc.stderr or "")


def wait_for(check, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    return None


# -- the stack with a seeded project -------------------------------------------------------

@pytest.fixture(scope="module")
def seeded(module_stack):
    up = module_stack.run("up", "--timeout", "300")
    assert up.returncode == 0, up.stderr
    first = module_stack.run("seed-repo", "numbers", "--timeout", "120")
    assert first.returncode == 0, first.stdout + first.stderr
    return module_stack, first


def test_seed_creates_repository_job_webhook_and_first_build(seeded, tmp_path):
    stack, first = seeded
    outcomes = step_outcomes(first.stdout)
    assert {step: outcomes.get(step) for step in SEED_STEPS} == dict.fromkeys(SEED_STEPS, "created")
    assert "build      #1 SUCCESS" in first.stdout

    heads = HostGit(stack, tmp_path).heads(f"{stack.url('gogs')}/ci/numbers.git")
    assert list(heads) == ["refs/heads/main"]

    config = ElementTree.fromstring(jenkins_get(stack, "/job/numbers/config.xml").content)
    assert config.findtext(".//hudson.plugins.git.UserRemoteConfig/url") == "http://gogs:3000/ci/numbers.git"
    assert config.findtext(".//hudson.plugins.git.UserRemoteConfig/credentialsId") == "gogs"
    assert config.findtext(".//hudson.plugins.git.BranchSpec/name") == "*/main"
    assert config.findtext(".//hudson.triggers.SCMTrigger/spec") in ("", None)
    assert config.findtext(".//hudson.triggers.SCMTrigger/ignorePostCommitHooks") == "false"

    [hook] = gogs_hooks(stack, "numbers")
    assert hook["config"]["url"] == ("http://jenkins:8080/git/notifyCommit?url=http://gogs:3000/ci/numbers.git"
                                     f"&token={stack.secret('jenkins-notify-token')}")
    assert (hook["config"]["content_type"], hook["events"], hook["active"]) == ("json", ["push"], True)

    # The bot reads the private repository (as Jenkins will); anonymous users do not see it.
    collaborators = requests.get(f"{stack.url('gogs')}/api/v1/repos/ci/numbers/collaborators", timeout=10,
                                 headers={"Authorization": f"token {stack.secret('gogs-token')}"}).json()
    assert [(c["username"], c["permissions"]["push"]) for c in collaborators] == [("jenkins", False)]
    assert requests.get(f"{stack.url('gogs')}/api/v1/repos/ci/numbers", timeout=10).status_code == 404
    # No credential was left in anything git keeps.
    assert stack.secret("gogs-token") not in first.stdout + first.stderr


def test_push_reaches_jenkins_through_the_webhook(seeded, tmp_path):
    stack, _ = seeded
    git = HostGit(stack, tmp_path)
    url = f"{stack.url('gogs')}/ci/numbers.git"
    git("clone", "-q", url, str(tmp_path / "work"))
    work = tmp_path / "work"
    (work / "CHANGELOG.md").write_text("A change pushed by the webhook test.\n")
    git("add", "CHANGELOG.md", cwd=work)
    git("commit", "-q", "-m", "Trigger a build through the webhook", cwd=work)
    before = job_state(stack, "numbers")["nextBuildNumber"]

    pushed_at = time.monotonic()
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    queued = wait_for(lambda: (job := job_state(stack, "numbers"))["inQueue"] or job["nextBuildNumber"] > before, 60)
    delay = time.monotonic() - pushed_at
    assert queued, "no build was queued within 60 s of the push"
    print(f"\npush -> queued build: {delay:.2f} s")

    # The build that came from the push finishes; then a notification with no new commit queues nothing.
    wait_for(lambda: job_state(stack, "numbers")["nextBuildNumber"] > before
             and not job_state(stack, "numbers")["inQueue"], 60)
    settled = job_state(stack, "numbers")["nextBuildNumber"]
    notified = requests.get(f"{stack.url('jenkins')}/git/notifyCommit", timeout=10, params={
        "url": "http://gogs:3000/ci/numbers.git", "token": stack.secret("jenkins-notify-token")})
    assert notified.text == "Scheduled polling of numbers\n"
    polled = wait_for(lambda: stack.run("logs", "jenkins").stdout.count("polling numbers:") >= 2, 30, interval=0.5)
    assert polled, "Jenkins did not poll Gogs after the notification"
    state = job_state(stack, "numbers")
    assert (state["inQueue"], state["nextBuildNumber"]) == (False, settled)


def test_rerun_changes_nothing_and_repairs_drift(seeded, tmp_path):
    stack, _ = seeded
    heads_before = HostGit(stack, tmp_path).heads(f"{stack.url('gogs')}/ci/numbers.git")

    again = stack.run("seed-repo", "numbers", "--no-wait")
    assert again.returncode == 0, again.stderr
    assert {s: step_outcomes(again.stdout).get(s) for s in SEED_STEPS} == dict.fromkeys(SEED_STEPS, "unchanged")
    assert job_names(stack).count("numbers") == 1
    assert len(gogs_hooks(stack, "numbers")) == 1
    assert HostGit(stack, tmp_path).heads(f"{stack.url('gogs')}/ci/numbers.git") == heads_before

    # Drift: the hook switched off, a duplicate hook, the job edited by hand.
    token = {"Authorization": f"token {stack.secret('gogs-token')}"}
    hooks_url = f"{stack.url('gogs')}/api/v1/repos/ci/numbers/hooks"
    [hook] = gogs_hooks(stack, "numbers")
    assert requests.patch(f"{hooks_url}/{hook['id']}", json={"active": False}, headers=token, timeout=10).ok
    assert requests.post(hooks_url, headers=token, timeout=10, json={
        "type": "gogs", "config": {"url": hook["config"]["url"], "content_type": "json"}, "active": True}).ok
    edited = jenkins_get(stack, "/job/numbers/config.xml").text.replace("<scriptPath>Jenkinsfile", "<scriptPath>Other")
    assert requests.post(f"{stack.url('jenkins')}/job/numbers/config.xml", data=edited.encode(), timeout=10,
                         headers={"Content-Type": "application/xml"},
                         auth=("ciadmin", stack.secret("jenkins-token"))).ok

    repaired = stack.run("seed-repo", "numbers", "--no-wait")
    assert repaired.returncode == 0, repaired.stderr
    outcomes = step_outcomes(repaired.stdout)
    assert (outcomes["seed.job"], outcomes["seed.webhook"], outcomes["seed.push"]) == ("updated", "updated", "unchanged")
    [hook] = gogs_hooks(stack, "numbers")
    assert hook["active"] is True
    assert "<scriptPath>Jenkinsfile</scriptPath>" in jenkins_get(stack, "/job/numbers/config.xml").text


def test_bad_input_changes_nothing(seeded):
    stack, _ = seeded
    for args, message in ((["seed-repo", "--name", "Not_Valid"], "project name 'Not_Valid' is not allowed"),
                          (["seed-repo", "no-such-template"], "no project template 'no-such-template'")):
        refused = stack.run(*args)
        assert refused.returncode == 2
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith("ci-stack: error: ") and message in line
        assert "Traceback" not in refused.stderr
    assert job_names(stack) == ["numbers"]


def test_seed_on_a_stack_that_is_not_up(make_stack):
    stack = make_stack()
    refused = stack.run("seed-repo", "numbers")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"ci-stack: error: stack '{stack.project}' is not up (gogs missing, registry missing, jenkins missing): "
        "run `ci-stack up` first"]


# -- the demo pipeline for real ------------------------------------------------------------

@pytest.mark.parametrize("template, images", [("numbers", ["ci/numbers-api", "ci/numbers-web"]),
                                              ("site", ["ci/site"])])
def test_pipeline_scripts_build_test_and_push(seeded, tmp_path, template, images):
    stack, _ = seeded
    if template != "numbers":
        seeded_site = stack.run("seed-repo", template, "--no-wait")
        assert seeded_site.returncode == 0, seeded_site.stderr
    ok, output = run_pipeline(stack, template, "7", tmp_path)
    assert ok, output[-3000:]
    assert "verify: ok" in output
    assert "e2e passed" in output and "test: end-to-end test passed" in output
    for repository in images:
        assert registry_tags(stack, repository) == ["build-7", "latest"]
        labels = docker.image.inspect(f"localhost:{stack.ports['registry']}/{repository}:build-7").config.labels
        assert labels["org.ci-stack.build-number"] == "7"
    # The test stage cleaned up: no container, network or e2e image of this build is left.
    assert docker.container.list(all=True, filters=[("label", f"com.docker.compose.project={template}-test-7")]) == []
    assert not docker.image.exists(f"{template}-e2e:build-7")


def test_numbers_unit_tests_run_in_the_image_build(seeded, tmp_path):
    stack, _ = seeded
    # A fresh line in each test file, so BuildKit's cache cannot stand in for running the tests.
    touch = " && ".join(f"echo '# run {time.time_ns()}' >> src/{s}/test_app.py" for s in ("api", "web"))
    ok, output = run_pipeline(stack, "numbers", "8", tmp_path, prepare=touch, scripts=("build",))
    assert ok, output[-3000:]
    assert "test_bad_range_is_400 (test_app.HandlerTest" in output
    assert "test_api_error_message_is_kept (test_app.FetchNumberTest" in output
    # unittest's verdict line for each of the two images, as BuildKit prints it: "#18 0.52 OK".
    assert len(re.findall(r"^#\d+ [\d.]+ OK$", output, re.MULTILINE)) == 2, output[-3000:]


def test_broken_unit_test_fails_the_build_and_pushes_nothing(seeded, tmp_path):
    stack, _ = seeded
    tags_before = registry_tags(stack, "ci/numbers-api")
    # Break one unit test by changing what it expects.
    break_test = "sed -i 's/(1, 100))/(1, 99))/' src/api/test_app.py && grep -q '(1, 99))' src/api/test_app.py"
    ok, output = run_pipeline(stack, "numbers", "9", tmp_path, prepare=break_test, scripts=("build", "push"))
    assert not ok
    assert "FAIL: test_defaults (test_app.ParseRangeTest" in output
    assert "AssertionError: Tuples differ: (1, 100) != (1, 99)" in output
    assert "build: built" not in output
    assert registry_tags(stack, "ci/numbers-api") == tags_before
    assert "build-9" not in registry_tags(stack, "ci/numbers-web")


def test_pipeline_pushes_to_a_registry_with_auth(make_stack, tmp_path):
    """[registry] auth = true: up creates the `registry` credential in Jenkins, the seeded
    Jenkinsfile binds it for the Push stage, and ci/push.sh logs in with it."""
    stack = make_stack(extra_env={"CI_STACK_REGISTRY_AUTH": "true"})
    up = stack.run("up", "--timeout", "300")
    assert up.returncode == 0, up.stdout + up.stderr
    assert step_outcomes(up.stdout)["jenkins.credentials.registry"] == "created"
    credentials = ("ciadmin", stack.secret("registry-password"))
    assert requests.get(f"{stack.url('registry')}/v2/", timeout=10).status_code == 401
    assert requests.get(f"{stack.url('registry')}/v2/", timeout=10, auth=credentials).status_code == 200

    seeded = stack.run("seed-repo", "site", "--no-wait")
    assert seeded.returncode == 0, seeded.stderr
    git = HostGit(stack, tmp_path)
    git("clone", "-q", f"{stack.url('gogs')}/ci/site.git", str(tmp_path / "site"))
    assert "credentialsId: 'registry'" in (tmp_path / "site" / "Jenkinsfile").read_text()

    anonymous, output = run_pipeline(stack, "site", "4", tmp_path, scripts=("build", "push"))
    assert not anonymous and "no basic auth credentials" in output
    ok, output = run_pipeline(stack, "site", "5", tmp_path, scripts=("build", "push"),
                              extra_env={"REGISTRY_USER": credentials[0], "REGISTRY_PASSWORD": credentials[1]})
    assert ok, output[-3000:]
    assert registry_tags(stack, "ci/site", auth=credentials) == ["build-5", "latest"]
    assert credentials[1] not in output


def test_the_users_git_config_neither_breaks_nor_keeps_the_push(seeded, tmp_path):
    """A developer's ~/.gitconfig with commit signing and a storing credential helper: the seed
    commit is still made and pushed, and no credential lands in their home."""
    stack, _ = seeded
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[commit]\n\tgpgsign = true\n[credential]\n\thelper = store\n")
    stack.extra_env["HOME"] = str(home)
    try:
        seeded_again = stack.run("seed-repo", "site", "--name", "site-home", "--no-wait")
    finally:
        del stack.extra_env["HOME"]
    assert seeded_again.returncode == 0, seeded_again.stderr
    assert step_outcomes(seeded_again.stdout)["seed.push"] == "created"
    assert sorted(p.name for p in home.iterdir()) == [".gitconfig"]


def test_force_push_replaces_the_history_with_the_template(seeded, tmp_path):
    stack, _ = seeded
    git = HostGit(stack, tmp_path)
    url = f"{stack.url('gogs')}/ci/numbers.git"
    before = git.heads(url)["refs/heads/main"]
    forced = stack.run("seed-repo", "numbers", "--force-push", "--no-wait")
    assert forced.returncode == 0, forced.stderr
    assert step_outcomes(forced.stdout)["seed.push"] == "updated"
    assert git.heads(url)["refs/heads/main"] != before
    git("clone", "-q", url, str(tmp_path / "forced"))
    assert git("log", "--format=%s", cwd=tmp_path / "forced").splitlines() == ["Seed from the ci-stack template 'numbers'"]
    assert not (tmp_path / "forced" / "CHANGELOG.md").exists()
