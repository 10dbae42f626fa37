"""`ci-stack seed-repo`: a demo project pushed to Gogs, a Jenkins pipeline job wired to it by a
webhook, and (with --wait) its first build followed to the end.

Like `up`, seeding is a list of small idempotent steps; a re-run updates the job and the webhook in
place and never rewrites the repository's history unless asked to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

from ci_stack import render
from ci_stack.errors import BadInput, OperationFailed, StackNotRunning
from ci_stack.resources import templates_dir
from ci_stack.services.gogs import GogsRepositories
from ci_stack.services.jenkins import Build, JenkinsJobs
from ci_stack.services.registry import image_tags, push_host
from ci_stack.stack import Stack
from ci_stack.steps import Outcome, Reporter, Runner, Step

# Gogs accepts more, but the name is also a Jenkins job, a Compose project and an image name.
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
# The demo images' base (PINS.md); each project's ci/common.sh lets PYTHON_IMAGE override it.
DEMO_PYTHON_IMAGE = "python:3.14.7-slim-trixie"
# How the containers reach each other on the stack's network.
GOGS_INTERNAL_URL = "http://gogs:3000"
JENKINS_INTERNAL_URL = "http://jenkins:8080"
GIT_TIMEOUT = 120
JOB_CREDENTIALS_ID = "gogs"
PROGRESS_INTERVAL = 15  # seconds between "still running" lines while a build runs
# Files in a template folder that describe it rather than belong to the project.
NOT_PUSHED = ("project.toml", "README.txt")


@dataclass(frozen=True)
class ProjectTemplate:
    name: str
    description: str
    path: Path
    pipeline: Path | None  # shared files the template's own files are laid over
    images: tuple[str, ...]  # registry repositories, with {org} and {name} placeholders


@dataclass(frozen=True)
class ProjectFile:
    relative_path: str
    content: bytes
    executable: bool


def projects_dir() -> Path:
    return templates_dir() / "projects"


def project_templates() -> dict[str, ProjectTemplate]:
    found = {}
    for manifest in sorted(projects_dir().glob("*/project.toml")):
        meta = tomllib.loads(manifest.read_text())
        pipeline = meta.get("pipeline")
        found[manifest.parent.name] = ProjectTemplate(
            manifest.parent.name, meta["description"], manifest.parent,
            projects_dir() / pipeline if pipeline else None, tuple(meta.get("images", ())))
    return found


def project_template(name: str) -> ProjectTemplate:
    templates = project_templates()
    if name not in templates:
        raise BadInput(f"no project template '{name}' (available: {', '.join(templates)})")
    return templates[name]


def check_project_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise BadInput(f"project name '{name}' is not allowed: use 1 to 40 lowercase letters, digits and "
                       "dashes, starting and ending with a letter or digit")
    return name


def render_project(template: ProjectTemplate, context: dict) -> list[ProjectFile]:
    """Every file of the project: `*.j2` files rendered (suffix dropped), others copied; a file
    that starts with `#!` is executable."""
    env = render.environment()
    files: dict[str, ProjectFile] = {}
    for folder in filter(None, (template.pipeline, template.path)):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if relative in NOT_PUSHED or "__pycache__" in relative:
                continue
            if relative.endswith(".j2"):
                source = path.relative_to(templates_dir()).as_posix()
                content = env.get_template(source).render(context).encode()
                relative = relative[:-3]
            else:
                content = path.read_bytes()
            files[relative] = ProjectFile(relative, content, content.startswith(b"#!"))
    return list(files.values())


def same_repository(url_a: str, url_b: str) -> bool:
    """The git plugin's loose match: same host and path, ignoring slashes and a `.git` suffix."""
    def key(url: str) -> tuple[str, str]:
        parsed = urlparse(url)
        path = parsed.path.strip("/")
        return parsed.netloc.lower(), path[:-4] if path.endswith(".git") else path
    return key(url_a) == key(url_b)


def notify_url_target(hook_url: str) -> str | None:
    """The repository a `/git/notifyCommit` hook URL notifies about, or None for other hooks."""
    parsed = urlparse(hook_url)
    if not parsed.path.endswith("/git/notifyCommit"):
        return None
    return (parse_qs(parsed.query).get("url") or [None])[0]


class GitRemote:
    """Real `git` over smart HTTP. The credentials reach git through GIT_ASKPASS and the
    environment, so they are never on a command line and never written to `.git/config`."""

    def __init__(self, url: str, username: str, password: str):
        if shutil.which("git") is None:
            raise BadInput("git is not installed: seed-repo pushes with it (apt-get install git)")
        self.url, self.username, self.password = url, username, password

    def run(self, args: list[str], cwd: Path, askpass_dir: Path, settings: tuple[str, ...] = ()) -> str:
        """`git <args>` with `-c` for each of `settings`; errors name the subcommand and the remote."""
        askpass = askpass_dir / "askpass.sh"
        if not askpass.exists():
            askpass.write_text('#!/bin/sh\ncase "$1" in Username*) printf %s "$CI_STACK_GIT_USERNAME";; '
                               '*) printf %s "$CI_STACK_GIT_PASSWORD";; esac\n')
            askpass.chmod(0o700)
        # The user's own git configuration stays out: a credential helper would store the token, and
        # commit signing or URL rewrites would break or redirect the seed commit.
        env = {**os.environ, "GIT_ASKPASS": str(askpass), "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CONFIG_GLOBAL": os.devnull,
               "CI_STACK_GIT_USERNAME": self.username, "CI_STACK_GIT_PASSWORD": self.password}
        overrides = ("credential.helper=", "commit.gpgsign=false", *settings)
        command = ["git", *(flag for setting in overrides for flag in ("-c", setting)), *args]
        try:
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise OperationFailed(f"git {args[0]} ({self.url}) did not finish within {GIT_TIMEOUT} s") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise OperationFailed(f"git {args[0]} ({self.url}) failed: {detail}")
        return done.stdout

    def head(self, branch: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="ci-stack-git-") as workdir:
            listed = self.run(["ls-remote", self.url, f"refs/heads/{branch}"], Path(workdir), Path(workdir))
        return listed.split("\t", 1)[0] if listed.strip() else None

    def push_snapshot(self, files: list[ProjectFile], branch: str, message: str, author: tuple[str, str],
                      force: bool) -> None:
        """One commit holding exactly `files`, pushed as `branch`."""
        with tempfile.TemporaryDirectory(prefix="ci-stack-seed-") as workdir:
            tree, tools = Path(workdir) / "tree", Path(workdir)
            tree.mkdir()
            for file in files:
                path = tree / file.relative_path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(file.content)
                path.chmod(0o755 if file.executable else 0o644)
            self.run(["init", "-q", "-b", branch], tree, tools)
            self.run(["add", "--all"], tree, tools)
            self.run(["commit", "-q", "-m", message], tree, tools, (f"user.name={author[0]}", f"user.email={author[1]}"))
            self.run(["push", "-q", *(["--force"] if force else []), self.url, f"HEAD:refs/heads/{branch}"], tree, tools)


@dataclass(frozen=True)
class SeedResult:
    name: str
    repository_url: str
    job_url: str
    build: Build | None
    tags: dict[str, list[str]]


class Seeder:
    def __init__(self, stack: Stack, template: ProjectTemplate, name: str):
        self.stack, self.template, self.name = stack, template, check_project_name(name)
        config = stack.config
        self.org = config.get("gogs", "org")
        self.branch = "main"  # Gogs' DEFAULT_BRANCH in the rendered app.ini
        self.clone_url = f"{config.host_url('gogs')}/{self.org}/{self.name}.git"
        self.internal_clone_url = f"{GOGS_INTERNAL_URL}/{self.org}/{self.name}.git"
        self.changed = False

    # -- preconditions ---------------------------------------------------------------------

    def check_stack_up(self) -> None:
        states = self.stack.status()
        down = [f"{s.service} {s.state if s.state != 'running' else s.health}" for s in states if not s.ok]
        if down:
            raise StackNotRunning(f"stack '{self.stack.config.settings.project_name}' is not up "
                                  f"({', '.join(down)}): run `ci-stack up` first")
        for secret in ("gogs-token", "jenkins-token", "jenkins-notify-token"):
            if not self.stack.state.read_secret(secret):
                raise StackNotRunning(f"stack '{self.stack.config.settings.project_name}' is not configured "
                                      f"(no {secret} in {self.stack.state.secrets_dir}): run `ci-stack up` first")

    # -- steps -----------------------------------------------------------------------------

    # Made on first use: check_stack_up explains a missing token before they would fail on it.
    @cached_property
    def repos(self) -> GogsRepositories:
        return GogsRepositories(self.stack.config, self.stack.state)

    @cached_property
    def jobs(self) -> JenkinsJobs:
        return JenkinsJobs(self.stack.config, self.stack.state)

    def steps(self, force_push: bool) -> list[Step]:
        return [
            Step("seed.repo", self.ensure_repo),
            Step("seed.bot-access", lambda: self.repos.ensure_reader(self.name, self.stack.config.get("gogs", "bot"))),
            Step("seed.push", lambda: self.ensure_pushed(force_push)),
            Step("seed.job", self.ensure_job),
            Step("seed.webhook", self.ensure_webhook),
        ]

    def ensure_repo(self) -> Outcome:
        return self.repos.ensure_repo(self.name, f"{self.template.description} (seeded by ci-stack)")

    def context(self) -> dict:
        config = self.stack.config
        return {"name": self.name, "org": self.org, "registry": push_host(config),
                "registry_auth": config.get("registry", "auth"), "python_image": DEMO_PYTHON_IMAGE}

    def ensure_pushed(self, force: bool) -> Outcome:
        remote = GitRemote(self.clone_url, self.stack.config.get("admin", "username"),
                           self.stack.state.read_secret("gogs-token"))
        existing = remote.head(self.branch)
        if existing and not force:
            return Outcome.UNCHANGED
        author = ("ci-stack", self.stack.config.get("admin", "email"))
        remote.push_snapshot(render_project(self.template, self.context()), self.branch,
                             f"Seed from the ci-stack template '{self.template.name}'", author, force=bool(existing))
        self.changed = True
        return Outcome.UPDATED if existing else Outcome.CREATED

    def job_xml(self) -> str:
        return render.environment().get_template("jenkins/pipeline-job.xml.j2").render(
            description=f"Builds {self.org}/{self.name} from its Jenkinsfile (managed by ci-stack seed-repo)",
            repository_url=self.internal_clone_url, credentials_id=JOB_CREDENTIALS_ID, branch=self.branch)

    def ensure_job(self) -> Outcome:
        outcome = self.jobs.ensure_job(self.name, self.job_xml())
        self.changed |= outcome != Outcome.UNCHANGED
        return outcome

    def ensure_webhook(self) -> Outcome:
        token = self.stack.state.read_secret("jenkins-notify-token")
        url = f"{JENKINS_INTERNAL_URL}/git/notifyCommit?url={self.internal_clone_url}&token={token}"
        return self.repos.ensure_push_hook(
            self.name, url, lambda hook_url: same_repository(notify_url_target(hook_url) or "", self.internal_clone_url))

    # -- the first build -------------------------------------------------------------------

    def follow_build(self, timeout: float, progress: Callable[[str], None]) -> Build:
        """A new build when this run changed the repository or the job, or the job never built;
        otherwise the last build, followed to its end."""
        deadline = time.monotonic() + timeout
        remaining = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
        last = self.jobs.last_build(self.name)
        if self.changed or last is None:
            queue_path = self.jobs.start_build(self.name)
            progress(f"queued a build of {self.name}")
            number = self.jobs.wait_for_number(queue_path, remaining())
        else:
            number = last.number
        progress(f"build #{number}: {self.build_url(number)}console")
        reported = [0]

        def still_running(seconds: float) -> None:
            if seconds >= reported[0] + PROGRESS_INTERVAL:
                reported[0] = int(seconds // PROGRESS_INTERVAL) * PROGRESS_INTERVAL
                progress(f"build #{number} still running after {reported[0]} s")
        return self.jobs.wait_for_result(self.name, number, remaining(), still_running)

    def require_success(self, build: Build) -> Build:
        if build.result != "SUCCESS":
            raise OperationFailed(f"build #{build.number} of {self.name} finished {build.result}: "
                                  f"see {self.build_url(build.number)}console")
        return build

    @property
    def job_url(self) -> str:
        return f"{self.stack.config.host_url('jenkins')}/job/{self.name}/"

    def build_url(self, number: int) -> str:
        return f"{self.job_url}{number}/"

    def image_tags(self) -> dict[str, list[str]]:
        registry = push_host(self.stack.config)
        return {f"{registry}/{repository}": image_tags(self.stack.config, self.stack.state, repository)
                for repository in (i.format(org=self.org, name=self.name) for i in self.template.images)}


def seed(stack: Stack, template_name: str, name: str | None, reporter: Reporter, wait: bool, timeout: float,
         force_push: bool, progress: Callable[[str], None]) -> SeedResult:
    """Bad input is refused before anything changes; a build that does not succeed raises."""
    template = project_template(template_name)
    seeder = Seeder(stack, template, name or template.name)
    seeder.check_stack_up()
    Runner(reporter).run(seeder.steps(force_push))
    build = seeder.require_success(seeder.follow_build(timeout, progress)) if wait else None
    return SeedResult(seeder.name, seeder.clone_url, seeder.job_url, build, seeder.image_tags() if wait else {})
