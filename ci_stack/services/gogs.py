"""Gogs, configured through its CLI (first admin) and API v1 (everything else)."""

from __future__ import annotations

from typing import Callable

from python_on_whales.exceptions import DockerException

from ci_stack.config import StackConfig
from ci_stack.engine import Engine, first_line
from ci_stack.errors import ServiceError
from ci_stack.http import ServiceClient, answers, wait_until
from ci_stack.state import StateDir
from ci_stack.steps import Outcome, Step

SERVICE = "gogs"
GOGS_BINARY = "/app/gogs/gogs"
TOKEN_NAME = "ci-stack"


def token_header(state: StateDir) -> dict[str, str]:
    token = state.read_secret("gogs-token")
    if not token:
        raise ServiceError(SERVICE, "token", "no stored API token (run `ci-stack up`)")
    return {"Authorization": f"token {token}"}


class GogsConfigurator:
    def __init__(self, config: StackConfig, state: StateDir, engine: Engine):
        self.config, self.state, self.engine = config, state, engine
        self.client = ServiceClient(SERVICE, config.host_url(SERVICE))
        self.admin = config.get("admin", "username")
        self.email = config.get("admin", "email")
        self.org = config.get("gogs", "org")
        self.bot = config.get("gogs", "bot")

    def steps(self, timeout: float) -> list[Step]:
        return [
            Step("gogs.ready", lambda: self.wait_ready(timeout)),
            Step("gogs.admin", self.ensure_admin),
            Step("gogs.token", self.ensure_token),
            Step("gogs.org", self.ensure_org),
            Step("gogs.bot", self.ensure_bot),
        ]

    # -- readiness -------------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> Outcome:
        url = self.client.base_url + "/healthcheck"
        wait_until(lambda: answers(self.client.session, url, lambda r: r.status_code == 200 and b"OK" in r.content),
                   timeout, "healthcheck with database OK", SERVICE)
        return Outcome.OK

    # -- helpers ---------------------------------------------------------------------------

    def _login_works(self, username: str, password: str | None) -> bool:
        if not password:
            return False
        # /api/v1/user wants a token; the token list is the route that takes basic auth.
        found = self.client.request("GET", f"/api/v1/users/{username}/tokens", expect=(200, 401), auth=(username, password))
        return found.status_code == 200

    def _token(self) -> dict[str, str]:
        return token_header(self.state)

    # -- admin -----------------------------------------------------------------------------

    def ensure_admin(self) -> Outcome:
        password = self.state.read_secret("gogs-admin-password")
        if self._login_works(self.admin, password):
            return Outcome.UNCHANGED
        # The CLI only takes the password as an argument, visible in `ps`. So it gets a one-time
        # bootstrap password, and the real one is then set through the API, never on a command line.
        bootstrap = self.state.read_secret("gogs-bootstrap-password")
        if not self._login_works(self.admin, bootstrap):
            self._create_admin_with_cli(bootstrap)
            if not self._login_works(self.admin, bootstrap):
                raise ServiceError(SERVICE, "admin login", f"user '{self.admin}' exists but neither stored password works")
        self.client.request("PATCH", f"/api/v1/admin/users/{self.admin}", auth=(self.admin, bootstrap),
                            json={"email": self.email, "password": password, "admin": True, "active": True})
        if not self._login_works(self.admin, password):
            raise ServiceError(SERVICE, "admin login", "the new admin password is not accepted")
        return Outcome.CREATED

    def _create_admin_with_cli(self, bootstrap: str) -> None:
        # `--flag=value`: a generated password may start with "-", which a parser would take for a flag.
        command = [GOGS_BINARY, "admin", "create-user", f"--name={self.admin}", f"--password={bootstrap}",
                   f"--email={self.email}", "--admin"]
        try:
            self.engine.exec_in(SERVICE, command, user="git")
        except DockerException as exc:
            message = (exc.stderr or "") + (exc.stdout or "")
            if "already exists" not in message:
                raise ServiceError(SERVICE, "gogs admin create-user", first_line(exc)) from None

    # -- API token -------------------------------------------------------------------------

    def ensure_token(self) -> Outcome:
        stored = self.state.read_secret("gogs-token")
        if stored:
            check = self.client.request("GET", "/api/v1/user", expect=(200, 401), headers={"Authorization": f"token {stored}"})
            if check.status_code == 200:
                return Outcome.UNCHANGED
        auth = (self.admin, self.state.read_secret("gogs-admin-password"))
        existing = {t["name"] for t in self.client.request("GET", f"/api/v1/users/{self.admin}/tokens", auth=auth).json()}
        # Gogs 0.13+ shows a token only once: a lost or dead one is replaced by one with a new name.
        name = next(n for n in (TOKEN_NAME if i == 0 else f"{TOKEN_NAME}-{i + 1}" for i in range(len(existing) + 1))
                    if n not in existing)
        created = self.client.request("POST", f"/api/v1/users/{self.admin}/tokens", expect=(201,), auth=auth,
                                      json={"name": name})
        self.state.write_secret("gogs-token", created.json()["sha1"])
        return Outcome.UPDATED if stored else Outcome.CREATED

    # -- organization and bot --------------------------------------------------------------

    def ensure_org(self) -> Outcome:
        found = self.client.request("GET", f"/api/v1/orgs/{self.org}", expect=(200, 404), headers=self._token())
        if found.status_code == 200:
            return Outcome.UNCHANGED
        self.client.request("POST", f"/api/v1/admin/users/{self.admin}/orgs", expect=(201,), headers=self._token(),
                            json={"username": self.org, "full_name": "CI projects",
                                  "description": "Repositories built by Jenkins (managed by ci-stack)"})
        return Outcome.CREATED

    def ensure_bot(self) -> Outcome:
        password = self.state.read_secret("gogs-bot-password")
        email = f"{self.bot}@ci-stack.local"
        found = self.client.request("GET", f"/api/v1/users/{self.bot}", expect=(200, 404))
        if found.status_code == 404:
            self.client.request("POST", "/api/v1/admin/users", expect=(201,), headers=self._token(),
                                json={"username": self.bot, "email": email, "password": password, "send_notify": False})
            return Outcome.CREATED
        if self._login_works(self.bot, password):
            return Outcome.UNCHANGED
        self.client.request("PATCH", f"/api/v1/admin/users/{self.bot}", headers=self._token(),
                            json={"email": email, "password": password})
        return Outcome.UPDATED


class GogsRepositories:
    """The CI org's repositories: creation, read access for the bot, and push webhooks."""

    def __init__(self, config: StackConfig, state: StateDir):
        self.client = ServiceClient(SERVICE, config.host_url(SERVICE))
        self.headers = token_header(state)
        self.org = config.get("gogs", "org")

    def request(self, method: str, path: str, **kwargs):
        return self.client.request(method, f"/api/v1/repos/{self.org}/{path}", headers=self.headers, **kwargs)

    def ensure_repo(self, name: str, description: str) -> Outcome:
        """Private, so only the org, the admin and the bot read it."""
        if self.request("GET", name, expect=(200, 404)).status_code == 200:
            return Outcome.UNCHANGED
        self.client.request("POST", f"/api/v1/org/{self.org}/repos", expect=(201,), headers=self.headers,
                            json={"name": name, "description": description, "private": True, "auto_init": False})
        return Outcome.CREATED

    def ensure_reader(self, name: str, username: str) -> Outcome:
        collaborators = self.request("GET", f"{name}/collaborators").json()
        if any(c["username"] == username for c in collaborators):
            return Outcome.UNCHANGED
        self.request("PUT", f"{name}/collaborators/{username}", expect=(204,), json={"permission": "read"})
        return Outcome.CREATED

    def ensure_push_hook(self, name: str, url: str, same_target: Callable[[str], bool]) -> Outcome:
        """One active JSON push hook to `url`. Hooks for which `same_target(url)` holds are ours:
        the first is brought up to date, any further ones are duplicates and are deleted."""
        wanted = {"type": "gogs", "config": {"url": url, "content_type": "json"}, "events": ["push"], "active": True}
        ours = [h for h in self.request("GET", f"{name}/hooks").json() if same_target(h["config"]["url"])]
        if not ours:
            self.request("POST", f"{name}/hooks", expect=(201,), json=wanted)
            return Outcome.CREATED
        first, duplicates = ours[0], ours[1:]
        for hook in duplicates:
            self.request("DELETE", f"{name}/hooks/{hook['id']}", expect=(204,))
        current = (first["config"]["url"], first["config"]["content_type"], first["events"], first["active"])
        stale = current != (url, "json", ["push"], True)
        if stale:
            self.request("PATCH", f"{name}/hooks/{first['id']}", json={k: v for k, v in wanted.items() if k != "type"})
        return Outcome.UPDATED if stale or duplicates else Outcome.UNCHANGED
