"""Unit tests for seed-repo's logic: templates, rendering, names, URLs, the job XML."""

from __future__ import annotations

import subprocess
from xml.etree import ElementTree

import pytest

from ci_stack import seed
from ci_stack.errors import BadInput
from ci_stack.services.jenkins import job_fields

CONTEXT = {"name": "demo", "org": "ci", "registry": "localhost:5123", "registry_auth": False,
           "python_image": seed.DEMO_PYTHON_IMAGE}


def rendered(template: str, **overrides) -> dict[str, seed.ProjectFile]:
    files = seed.render_project(seed.project_template(template), {**CONTEXT, **overrides})
    return {f.relative_path: f for f in files}


def test_every_template_has_a_description_and_the_shared_pipeline():
    templates = seed.project_templates()
    assert {"numbers", "site"} <= set(templates)
    for template in templates.values():
        assert template.description and template.images
        files = rendered(template.name)
        for required in ("Jenkinsfile", "docker-compose.yml", "docker-compose-test.yml", "README.md",
                         "ci/common.sh", "ci/verify.sh", "ci/build.sh", "ci/test.sh", "ci/push.sh", "ci/cleanup.sh"):
            assert required in files, f"{template.name} lacks {required}"
        assert not [path for path in files if path.endswith(".j2") or path in ("project.toml", "README.txt")]


def test_scripts_are_executable_and_parse():
    files = rendered("numbers")
    scripts = [f for f in files.values() if f.relative_path.startswith("ci/") and f.relative_path != "ci/common.sh"]
    assert scripts and all(f.executable for f in scripts)
    assert not files["ci/common.sh"].executable and not files["src/api/app.py"].executable
    for file in files.values():
        if file.relative_path.endswith(".sh"):
            subprocess.run(["bash", "-n"], input=file.content, check=True)


def test_numbers_template_names_images_for_the_registry_and_the_build():
    files = rendered("numbers")
    compose = files["docker-compose.yml"].content.decode()
    assert "image: ${REGISTRY:?}/ci/demo-api:build-${BUILD_NUMBER:?}" in compose
    assert "image: ${REGISTRY:?}/ci/demo-web:build-${BUILD_NUMBER:?}" in compose
    common = files["ci/common.sh"].content.decode()
    assert ': "${REGISTRY:=localhost:5123}"' in common
    assert f': "${{PYTHON_IMAGE:={seed.DEMO_PYTHON_IMAGE}}}"' in common
    dockerfile = files["src/Dockerfile"].content.decode()
    # The final stage copies from the test stage, so BuildKit cannot skip the unit tests.
    assert "COPY --from=test" in dockerfile and "USER 10001" in dockerfile and "HEALTHCHECK" in dockerfile


def test_compose_files_are_valid(tmp_path):
    for template in seed.project_templates():
        folder = tmp_path / template
        for file in rendered(template).values():
            (folder / file.relative_path).parent.mkdir(parents=True, exist_ok=True)
            (folder / file.relative_path).write_bytes(file.content)
        env = {"REGISTRY": "localhost:5123", "BUILD_NUMBER": "3", "PYTHON_IMAGE": "python:x", "E2E_IMAGE": "e2e:3",
               "PATH": "/usr/bin:/bin:/usr/local/bin"}
        images = subprocess.run(["docker", "compose", "-f", "docker-compose.yml", "config", "--images"], cwd=folder,
                                env=env, capture_output=True, text=True, check=True).stdout.split()
        expected = {f"localhost:5123/{i.format(org='ci', name='demo')}:build-3"
                    for i in seed.project_template(template).images}
        assert set(images) == expected
        subprocess.run(["docker", "compose", "-f", "docker-compose.yml", "-f", "docker-compose-test.yml", "config",
                        "--quiet"], cwd=folder, env=env, check=True)


@pytest.mark.parametrize("auth", [False, True])
def test_jenkinsfile_stages_call_the_scripts_and_use_registry_credentials_only_with_auth(auth):
    jenkinsfile = rendered("numbers", registry_auth=auth)["Jenkinsfile"].content.decode()
    for stage, script in (("Verify", "verify"), ("Build", "build"), ("Test", "test"), ("Push", "push")):
        assert f"stage('{stage}')" in jenkinsfile and f"sh 'ci/{script}.sh'" in jenkinsfile
    assert "REGISTRY = 'localhost:5123'" in jenkinsfile
    assert ("credentialsId: 'registry'" in jenkinsfile) is auth
    assert "always { sh 'ci/cleanup.sh' }" in jenkinsfile


@pytest.mark.parametrize("name", ["numbers", "a", "my-app-2", "x" * 40])
def test_project_names_accepted(name):
    assert seed.check_project_name(name) == name


@pytest.mark.parametrize("name", ["", "Numbers", "my_app", "-app", "app-", "a.b", "x" * 41, "../etc"])
def test_project_names_refused(name):
    with pytest.raises(BadInput):
        seed.check_project_name(name)


def test_unknown_template_lists_the_available_ones():
    with pytest.raises(BadInput, match="available: numbers, site"):
        seed.project_template("nope")


def test_repository_urls_match_loosely_like_the_git_plugin():
    assert seed.same_repository("http://gogs:3000/ci/demo.git", "http://gogs:3000/ci/demo")
    assert seed.same_repository("http://GOGS:3000/ci/demo/", "http://gogs:3000/ci/demo.git")
    assert not seed.same_repository("http://gogs:3000/ci/demo.git", "http://gogs:3000/ci/demo2.git")
    assert seed.notify_url_target("http://jenkins:8080/git/notifyCommit?url=http://gogs:3000/ci/d.git&token=t") \
        == "http://gogs:3000/ci/d.git"
    assert seed.notify_url_target("http://elsewhere/hook?url=http://gogs:3000/ci/d.git") is None


def test_job_xml_is_a_pipeline_from_scm_with_a_post_commit_trigger():
    from ci_stack.render import environment

    xml = environment().get_template("jenkins/pipeline-job.xml.j2").render(
        description="a & b <c>", repository_url="http://gogs:3000/ci/demo.git", credentials_id="gogs", branch="main")
    root = ElementTree.fromstring(xml.encode())
    assert root.tag == "flow-definition"
    fields = job_fields(xml.encode())
    assert fields["description"] == "a & b <c>"
    # Jenkins' own rewriting (declaration, whitespace) does not count as a change; an edited field does.
    rewritten = xml.replace("<?xml version='1.1' encoding='UTF-8'?>", "<?xml version='1.0'?>").replace("  ", "\t")
    assert job_fields(rewritten.encode()) == fields
    assert job_fields(xml.replace("*/main", "*/dev").encode()) != fields
    assert root.find("definition").get("class") == "org.jenkinsci.plugins.workflow.cps.CpsScmFlowDefinition"
    assert root.findtext(".//hudson.plugins.git.UserRemoteConfig/url") == "http://gogs:3000/ci/demo.git"
    assert root.findtext(".//hudson.plugins.git.BranchSpec/name") == "*/main"
    assert root.findtext(".//hudson.triggers.SCMTrigger/ignorePostCommitHooks") == "false"
    assert root.findtext(".//scriptPath") == "Jenkinsfile"


class FakeJobs:
    """Stands in for JenkinsJobs: records what follow_build asked for."""

    def __init__(self, last_build, result="SUCCESS"):
        self.last, self.result, self.started = last_build, result, []

    def last_build(self, name):
        return self.last

    def start_build(self, name):
        self.started.append(name)
        return "/queue/item/7"

    def wait_for_number(self, queue_path, timeout):
        return 2 if self.last else 1

    def wait_for_result(self, name, number, timeout, still_running):
        still_running(31)  # one line, rounded down to the 15 s interval
        return seed.Build(number, self.result)


def make_seeder(jobs, changed):
    seeder = seed.Seeder.__new__(seed.Seeder)
    seeder.name, seeder.jobs, seeder.changed = "demo", jobs, changed
    seeder.build_url = lambda number: f"http://127.0.0.1:8080/job/demo/{number}/"
    return seeder


@pytest.mark.parametrize("last, changed, starts", [(None, False, True), (seed.Build(1, "SUCCESS"), True, True),
                                                   (seed.Build(1, "SUCCESS"), False, False)])
def test_a_build_starts_when_something_changed_or_none_exists(last, changed, starts):
    jobs = FakeJobs(last)
    lines = []
    seeder = make_seeder(jobs, changed)
    build = seeder.follow_build(60, lines.append)
    assert bool(jobs.started) is starts
    assert build.number == (1 if last is None else 2 if starts else 1)
    assert lines[-1] == f"build #{build.number} still running after 30 s"


def test_a_failed_build_is_one_error_with_the_console_url():
    from ci_stack.errors import OperationFailed

    seeder = make_seeder(FakeJobs(None, "FAILURE"), True)
    with pytest.raises(OperationFailed, match=r"^build #1 of demo finished FAILURE: see http://127.0.0.1:8080/job/demo/1/console$"):
        seeder.require_success(seeder.follow_build(60, lambda line: None))
