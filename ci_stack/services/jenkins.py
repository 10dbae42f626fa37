"""Jenkins, configured through its REST API after JCasC has defined the admin."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ci_stack.config import StackConfig
from ci_stack.errors import ServiceError
from ci_stack.http import ServiceClient, answers, new_session, wait_until
from ci_stack.resources import templates_dir
from ci_stack.state import StateDir
from ci_stack.steps import Outcome, Step

SERVICE = "jenkins"
TOKEN_NAME = "ci-stack"
NOTIFY_TOKEN_NAME = "ci-stack-gogs-webhooks"
STORE = "/credentials/store/system/domain/_"
# A URL no job uses: notifyCommit answers 200 to a valid token and 403 to a revoked one.
TOKEN_PROBE_URL = "http://ci-stack.invalid/token-probe.git"


def required_plugins() -> list[str]:
    lines = (templates_dir() / "jenkins" / "plugins.txt").read_text().splitlines()
    return [line.split(":")[0].strip() for line in lines if line.strip() and not line.startswith("#")]


def credential_xml(credential_id: str, username: str, password: str, description: str) -> str:
    return (
        "<com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>"
        f"<scope>GLOBAL</scope><id>{escape(credential_id)}</id><description>{escape(description)}</description>"
        f"<username>{escape(username)}</username><password>{escape(password)}</password>"
        "</com.cloudbees.plugins.credentials.impl.UsernamePasswordCredentialsImpl>"
    )


def fingerprint(*parts: str) -> str:
    """Marks what we wrote into a credential: Jenkins never gives secrets back, so this is how a
    re-run knows whether the stored credential is still the one we want."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def token_auth(config: StackConfig, state: StateDir) -> tuple[str, str]:
    token = state.read_secret("jenkins-token")
    if not token:
        raise ServiceError(SERVICE, "token", "no stored API token (run `ci-stack up`)")
    return (config.get("admin", "username"), token)


class JenkinsConfigurator:
    def __init__(self, config: StackConfig, state: StateDir):
        self.config, self.state = config, state
        self.client = ServiceClient(SERVICE, config.host_url(SERVICE))
        self.admin = config.get("admin", "username")

    def steps(self, timeout: float, credentials: dict[str, tuple[str, str]]) -> list[Step]:
        steps = [
            Step("jenkins.ready", lambda: self.wait_ready(timeout)),
            Step("jenkins.plugins", self.check_plugins),
            Step("jenkins.token", self.ensure_token),
            Step("jenkins.notify-token", self.ensure_notify_token),
        ]
        for credential_id, (username, password) in credentials.items():
            steps.append(Step(f"jenkins.credentials.{credential_id}",
                              lambda c=credential_id, u=username, p=password: self.ensure_credential(c, u, p)))
        return steps

    @property
    def password_auth(self) -> tuple[str, str]:
        return (self.admin, self.state.read_secret("jenkins-admin-password"))

    @property
    def token_auth(self) -> tuple[str, str]:
        return token_auth(self.config, self.state)

    # -- readiness -------------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> Outcome:
        """503 while booting (status, not text), then /login 200 with X-Jenkins, then an
        authenticated /api/json 200 (JCasC has created the admin)."""
        base, session = self.client.base_url, self.client.session
        wait_until(lambda: answers(session, base + "/login", lambda r: r.status_code == 200 and "X-Jenkins" in r.headers),
                   timeout, "/login = 200 with X-Jenkins", SERVICE)
        probe = new_session()
        probe.auth = self.password_auth
        wait_until(lambda: answers(probe, base + "/api/json", lambda r: r.status_code == 200), 30,
                   "authenticated /api/json = 200", SERVICE)
        return Outcome.OK

    def check_plugins(self) -> Outcome:
        found = self.client.request("GET", "/pluginManager/api/json?depth=1", auth=self.password_auth).json()
        active = {p["shortName"] for p in found.get("plugins", []) if p.get("active") and p.get("enabled", True)}
        missing = [name for name in required_plugins() if name not in active]
        if missing:
            raise ServiceError(SERVICE, "plugin check", "missing or inactive plugins: " + ", ".join(missing))
        return Outcome.OK

    # -- tokens ----------------------------------------------------------------------------

    def ensure_token(self) -> Outcome:
        stored = self.state.read_secret("jenkins-token")
        if stored and self._works(stored):
            return Outcome.UNCHANGED
        session = new_session()  # the crumb is bound to this session's cookie
        client = ServiceClient(SERVICE, self.client.base_url, session)
        crumb = client.request("GET", "/crumbIssuer/api/json", auth=self.password_auth).json()
        created = client.request("POST", "/me/descriptorByName/jenkins.security.ApiTokenProperty/generateNewToken",
                                 auth=self.password_auth, headers={crumb["crumbRequestField"]: crumb["crumb"]},
                                 data={"newTokenName": TOKEN_NAME})
        self.state.write_secret("jenkins-token", created.json()["data"]["tokenValue"])
        return Outcome.UPDATED if stored else Outcome.CREATED

    def _works(self, token: str) -> bool:
        return self.client.request("GET", "/api/json", expect=(200, 401), auth=(self.admin, token)).status_code == 200

    def notify_token_works(self, token: str) -> bool:
        probe = self.client.request("GET", "/git/notifyCommit", expect=(200, 401, 403),
                                    params={"url": TOKEN_PROBE_URL, "token": token})
        return probe.status_code == 200

    def ensure_notify_token(self) -> Outcome:
        stored = self.state.read_secret("jenkins-notify-token")
        if stored and self.notify_token_works(stored):
            return Outcome.UNCHANGED
        created = self.client.request("POST", "/descriptorByName/hudson.plugins.git.ApiTokenPropertyConfiguration/generate",
                                      auth=self.token_auth, data={"apiTokenName": NOTIFY_TOKEN_NAME})
        self.state.write_secret("jenkins-notify-token", created.json()["data"]["value"])
        return Outcome.UPDATED if stored else Outcome.CREATED

    # -- credentials -----------------------------------------------------------------------

    def credential_descriptions(self) -> dict[str, str]:
        listing = self.client.request("GET", f"{STORE}/api/json?depth=1", auth=self.token_auth).json()
        return {c["id"]: c.get("description") or "" for c in listing.get("credentials", [])}

    def ensure_credential(self, credential_id: str, username: str, password: str) -> Outcome:
        description = f"managed by ci-stack ({fingerprint(username, password)})"
        current = self.credential_descriptions()
        if current.get(credential_id) == description:
            return Outcome.UNCHANGED
        body = credential_xml(credential_id, username, password, description)
        headers = {"Content-Type": "application/xml"}
        if credential_id not in current:
            created = self.client.request("POST", f"{STORE}/createCredentials", expect=(200, 409),
                                          auth=self.token_auth, headers=headers, data=body)
            if created.status_code == 200:
                return Outcome.CREATED
        self.client.request("POST", f"{STORE}/credential/{credential_id}/config.xml", auth=self.token_auth,
                            headers=headers, data=body)
        return Outcome.UPDATED


@dataclass(frozen=True)
class Build:
    number: int
    result: str | None  # None while running


class JenkinsJobs:
    """Pipeline jobs and their builds, through the REST API with the stored API token."""

    def __init__(self, config: StackConfig, state: StateDir):
        self.client = ServiceClient(SERVICE, config.host_url(SERVICE))
        self.auth = token_auth(config, state)

    def request(self, method: str, path: str, **kwargs):
        return self.client.request(method, path, auth=self.auth, **kwargs)

    def ensure_job(self, name: str, config_xml: str) -> Outcome:
        found = self.request("GET", f"/job/{name}/config.xml", expect=(200, 404))
        headers = {"Content-Type": "application/xml"}
        if found.status_code == 404:
            self.request("POST", "/createItem", params={"name": name}, headers=headers, data=config_xml.encode())
            return Outcome.CREATED
        if job_fields(found.content) == job_fields(config_xml.encode()):
            return Outcome.UNCHANGED
        self.request("POST", f"/job/{name}/config.xml", headers=headers, data=config_xml.encode())
        return Outcome.UPDATED

    def last_build(self, name: str) -> Build | None:
        last = self.request("GET", f"/job/{name}/api/json").json().get("lastBuild")
        return self.build(name, last["number"]) if last else None

    def build(self, name: str, number: int) -> Build:
        found = self.request("GET", f"/job/{name}/{number}/api/json").json()
        return Build(found["number"], found.get("result"))

    def start_build(self, name: str) -> str:
        """Queues a build; returns the path of its queue item."""
        queued = self.request("POST", f"/job/{name}/build", expect=(201,))
        return urlparse(queued.headers["Location"]).path.rstrip("/")

    def wait_for_number(self, queue_path: str, timeout: float) -> int:
        def build_number() -> int | None:
            item = self.request("GET", f"{queue_path}/api/json").json()
            if item.get("cancelled"):
                raise ServiceError(SERVICE, "build", f"queue item {item.get('id')} was cancelled")
            return (item.get("executable") or {}).get("number")
        return wait_until(build_number, timeout, "the queued build to start", SERVICE, interval=1)

    def wait_for_result(self, name: str, number: int, timeout: float,
                        still_running: Callable[[float], None] = lambda seconds: None) -> Build:
        started = time.monotonic()

        def finished() -> Build | None:
            build = self.build(name, number)
            if build.result is None:
                still_running(time.monotonic() - started)
                return None
            return build
        return wait_until(finished, timeout, f"build #{number} of {name} to finish", SERVICE, interval=1)


# What seed-repo manages in a pipeline job. Jenkins gives config.xml back in its own form (XML 1.1,
# plugin versions, defaults filled in), so the two are compared on these fields, not as text.
JOB_FIELDS = (
    "description",
    "definition/scm/userRemoteConfigs/hudson.plugins.git.UserRemoteConfig/url",
    "definition/scm/userRemoteConfigs/hudson.plugins.git.UserRemoteConfig/credentialsId",
    "definition/scm/branches/hudson.plugins.git.BranchSpec/name",
    "definition/scriptPath",
    "definition/lightweight",
    ".//hudson.triggers.SCMTrigger/spec",
    ".//hudson.triggers.SCMTrigger/ignorePostCommitHooks",
    "disabled",
)


def job_fields(config_xml: bytes) -> dict[str, str | None]:
    try:
        root = ElementTree.fromstring(config_xml)
    except ElementTree.ParseError:
        return {}
    definition = root.find("definition")
    fields = {path: (root.findtext(path) or "").strip() if root.find(path) is not None else None for path in JOB_FIELDS}
    fields["definition@class"] = definition.get("class") if definition is not None else None
    return fields
