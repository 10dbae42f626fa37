"""A protocol-faithful stand-in for a Jenkins LTS controller with JCasC, credentials, workflow-job
and the git plugin, for tests on hosts that cannot pull jenkins/jenkins.

It follows ../shared/reference/SERVICE_APIS.md (section 2), never ci-stack's client. It does not run
pipelines: a build's console says so and its result is SUCCESS. Polling after /git/notifyCommit is
real: `git ls-remote` of the job's remote with the job's credentials from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import yaml

# httpd.py sits beside this file in the image, and in ../common in the repository.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent / "common")]
from httpd import Request, Response, serve  # noqa: E402

VERSION = "2.580.3"
HOME = Path(os.environ.get("JENKINS_HOME", "/var/jenkins_home"))
STATE_FILE = HOME / "jenkins-double-state.json"
PLUGINS_FILE = Path(os.environ.get("JENKINS_DOUBLE_PLUGINS", "/usr/share/jenkins/ref/plugins.txt"))
BOOT_SECONDS = float(os.environ.get("JENKINS_DOUBLE_BOOT_SECONDS", "5"))
QUIET_PERIOD = float(os.environ.get("JENKINS_DOUBLE_QUIET_PERIOD", "1"))
CRUMB_SALT = secrets.token_hex(16)
SESSION_COOKIE = "JSESSIONID." + secrets.token_hex(4)
NOTIFY_TOKEN_REQUIRED = ("An access token is required. Please refer to Git plugin documentation "
                         "(https://plugins.jenkins.io/git/#plugin-content-push-notification-from-repository) for details.")
CRUMB_EXCLUDED = ("/git/notifyCommit",)


def expand(value, env):
    if isinstance(value, str):
        return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: env.get(m.group(1), ""), value)
    if isinstance(value, dict):
        return {k: expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    return value


def load_casc() -> dict:
    """CASC_JENKINS_CONFIG: comma-separated files or directories (searched for *.yml/*.yaml)."""
    merged: dict = {}
    for entry in filter(None, os.environ.get("CASC_JENKINS_CONFIG", str(HOME / "jenkins.yaml")).split(",")):
        path = Path(entry.strip())
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                for key, value in (yaml.safe_load(file.read_text()) or {}).items():
                    merged.setdefault(key, {}).update(value) if isinstance(value, dict) else merged.update({key: value})
    return expand(merged, os.environ)


def hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def loose_url(url: str) -> tuple[str, str]:
    """git plugin's loose match: same host, same path ignoring leading/trailing '/' and '.git'."""
    parts = urlsplit(url.strip())
    path = parts.path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    return (parts.hostname or "").lower(), path.strip("/")


class Jenkins:
    def __init__(self):
        self.started = time.monotonic()
        self.lock = threading.RLock()
        casc = load_casc()
        realm = casc.get("jenkins", {}).get("securityRealm", {}).get("local", {})
        self.passwords = {u["id"]: str(u.get("password", "")) for u in realm.get("users", [])}
        self.location = casc.get("unclassified", {}).get("location", {}).get("url", "")
        self.sessions: dict[str, str] = {}  # session id -> user
        self.state = self.load_state()
        self.plugins = [line.split(":") for line in PLUGINS_FILE.read_text().splitlines()
                        if line.strip() and not line.startswith("#")] if PLUGINS_FILE.is_file() else []

    # persistence ------------------------------------------------------------------------------

    def load_state(self) -> dict:
        if STATE_FILE.is_file():
            return json.loads(STATE_FILE.read_text())
        return {"api_tokens": {}, "notify_tokens": {}, "credentials": {}, "jobs": {}, "queue": {}, "next_queue_id": 1}

    def save(self) -> None:
        tmp = STATE_FILE.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(STATE_FILE)

    # responses --------------------------------------------------------------------------------

    def headers(self) -> dict:
        return {"X-Jenkins": VERSION, "X-Hudson": "1.395", "X-Jenkins-Session": "double"}

    @staticmethod
    def error_page(status: int, reason: str, extra: dict | None = None) -> Response:
        html = f"<html><head><title>Error {status} {reason}</title></head><body><h2>HTTP ERROR {status} {reason}</h2></body></html>"
        return Response.text(status, html, "text/html;charset=utf-8", extra)

    def base_url(self, request: Request) -> str:
        return f"http://{request.header('host') or 'localhost:8080'}"

    # auth ---------------------------------------------------------------------------------------

    def authenticate(self, request: Request):
        """Returns (user, via_token, error). Bad basic credentials are a 401, never anonymous."""
        creds = request.basic_auth()
        if creds is None:
            session = self.session_id(request)
            return self.sessions.get(session), False, None
        user, secret = creds
        if user in self.passwords and secret == self.passwords[user]:
            return user, False, None
        tokens = self.state["api_tokens"].get(user, {})
        if hashed(secret) in tokens.values():
            return user, True, None
        return None, False, self.error_page(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Jenkins"'})

    def session_id(self, request: Request) -> str | None:
        for part in (request.header("cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                return value
        return None

    def crumb_for(self, user: str, session: str) -> str:
        return hashed(f"{user};{session}{CRUMB_SALT}")

    # dispatch -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if time.monotonic() - self.started < BOOT_SECONDS:
            return Response.text(503, "<html><body>Jenkins is getting ready to work</body></html>", "text/html;charset=utf-8")
        response = self.route(request)
        response.headers = {**self.headers(), **response.headers}
        return response

    def route(self, request: Request) -> Response:
        path = request.path
        if path in ("/login", "/login/"):
            return Response.text(200, "<html><body>Sign in to Jenkins</body></html>", "text/html;charset=utf-8")
        if path.startswith("/git/notifyCommit"):
            return self.notify_commit(request)
        user, via_token, error = self.authenticate(request)
        if error:
            return error
        if user is None:
            return self.error_page(403, "Authentication required")
        if request.method == "POST" and not via_token and not path.startswith(CRUMB_EXCLUDED):
            session = self.session_id(request)
            crumb = request.header("jenkins-crumb") or request.form().get("Jenkins-Crumb")
            if not session or crumb != self.crumb_for(user, session):
                return self.error_page(403, "No valid crumb was included in the request")
        with self.lock:
            return self.route_authenticated(request, user)

    def route_authenticated(self, request: Request, user: str) -> Response:
        path, method = request.path.rstrip("/") or "/", request.method
        if path in ("", "/", "/api/json"):
            return Response.json(200, {"_class": "hudson.model.Hudson", "mode": "NORMAL", "url": self.location,
                                       "nodeDescription": "the Jenkins controller's built-in node",
                                       "jobs": [{"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "name": n,
                                                 "url": f"{self.base_url(request)}/job/{n}/", "color": "blue"}
                                                for n in self.state["jobs"]]})
        if path == "/crumbIssuer/api/json" and method == "GET":
            return self.issue_crumb(request, user)
        if path in ("/me/descriptorByName/jenkins.security.ApiTokenProperty/generateNewToken",
                    f"/user/{user}/descriptorByName/jenkins.security.ApiTokenProperty/generateNewToken") and method == "POST":
            return self.generate_api_token(request, user)
        if path == "/pluginManager/api/json":
            return Response.json(200, {"_class": "hudson.LocalPluginManager", "plugins": [
                {"shortName": p[0], "version": p[1] if len(p) > 1 else "", "active": True, "enabled": True}
                for p in self.plugins]})
        if path.startswith("/descriptorByName/hudson.plugins.git.ApiTokenPropertyConfiguration/"):
            return self.notify_token_admin(request, path.rsplit("/", 1)[1])
        if path.startswith("/credentials/store/system/domain/_"):
            return self.credentials(request, path[len("/credentials/store/system/domain/_"):])
        if path == "/createItem" and method == "POST":
            return self.create_item(request)
        if path.startswith("/queue/item/"):
            return self.queue_item(request, path)
        match = re.match(r"^/job/([^/]+)(/.*)?$", path)
        if match:
            return self.job(request, match.group(1), match.group(2) or "")
        return self.error_page(404, "Not Found")

    # crumbs and tokens --------------------------------------------------------------------------

    def issue_crumb(self, request: Request, user: str) -> Response:
        session = self.session_id(request)
        headers = {}
        if session not in self.sessions:
            session = secrets.token_hex(12)
            headers["Set-Cookie"] = f"{SESSION_COOKIE}={session}; Path=/; HttpOnly"
        self.sessions[session] = user
        return Response.json(200, {"_class": "hudson.security.csrf.DefaultCrumbIssuer",
                                   "crumb": self.crumb_for(user, session), "crumbRequestField": "Jenkins-Crumb"}, headers)

    def generate_api_token(self, request: Request, user: str) -> Response:
        name = request.query.get("newTokenName") or request.form().get("newTokenName") or f"Token created on {time.strftime('%Y-%m-%dT%H:%M:%S')}"
        value = "11" + secrets.token_hex(16)
        token_uuid = str(uuid.uuid4())
        self.state["api_tokens"].setdefault(user, {})[token_uuid] = hashed(value)
        self.save()
        return Response.json(200, {"status": "ok", "data": {"tokenName": name, "tokenUuid": token_uuid, "tokenValue": value}})

    def notify_token_admin(self, request: Request, action: str) -> Response:
        if request.method != "POST":
            return self.error_page(405, "Method Not Allowed")
        form = request.form()
        if action == "generate":
            value = secrets.token_hex(16)
            token_uuid = str(uuid.uuid4())
            name = form.get("apiTokenName", "")
            self.state["notify_tokens"][token_uuid] = {"name": name, "hash": hashed(value)}
            self.save()
            return Response.json(200, {"status": "ok", "data": {"uuid": token_uuid, "name": name, "value": value}})
        if action == "revoke":
            self.state["notify_tokens"].pop(form.get("apiTokenUuid", ""), None)
            self.save()
            return Response.json(200, {"status": "ok"})
        return self.error_page(404, "Not Found")

    # credentials --------------------------------------------------------------------------------

    @staticmethod
    def parse_credential(body: bytes) -> dict | None:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return None
        fields = {child.tag: (child.text or "") for child in root}
        if not fields.get("id"):
            return None
        return {"class": root.tag, **fields}

    def credentials(self, request: Request, rest: str) -> Response:
        store = self.state["credentials"]
        if rest == "/api/json" and request.method == "GET":
            return Response.json(200, {"_class": "com.cloudbees.plugins.credentials.CredentialsStoreAction$DomainWrapper",
                                       "credentials": [{"id": c["id"], "description": c.get("description", ""),
                                                        "displayName": f"{c.get('username', '')}/****",
                                                        "typeName": "Username with password", "fingerprint": None}
                                                       for c in store.values()]})
        if rest == "/createCredentials" and request.method == "POST":
            credential = self.parse_credential(request.body)
            if credential is None:
                return self.error_page(500, "Server Error")
            if credential["id"] in store:
                return self.error_page(409, "Conflict")
            store[credential["id"]] = credential
            self.save()
            return Response(200)
        match = re.match(r"^/credential/([^/]+)/config\.xml$", rest)
        if match:
            credential_id = match.group(1)
            if credential_id not in store:
                return self.error_page(404, "Not Found")
            if request.method == "GET":
                c = store[credential_id]
                xml = (f"<{c['class']}><scope>GLOBAL</scope><id>{c['id']}</id><description>{c.get('description', '')}"
                       f"</description><username>{c.get('username', '')}</username><password><secret-redacted/></password></{c['class']}>")
                return Response.text(200, xml, "application/xml")
            credential = self.parse_credential(request.body)
            if credential is None or credential["id"] != credential_id:
                return self.error_page(400, "Bad Request")
            store[credential_id] = credential
            self.save()
            return Response(200)
        return self.error_page(404, "Not Found")

    # jobs, queue, builds ----------------------------------------------------------------------

    def create_item(self, request: Request) -> Response:
        name = request.query.get("name")
        if not (request.header("content-type") or "").split(";")[0] in ("application/xml", "text/xml"):
            return self.error_page(400, "Bad Request", {"X-Error": "No Content-Type header set"})
        if not name:
            return self.error_page(400, "Bad Request", {"X-Error": "Query parameter 'name' is required"})
        if "/" in name:
            return self.error_page(400, "Bad Request", {"X-Error": "‘/’ is an unsafe character"})
        if name in self.state["jobs"]:
            return self.error_page(400, "Bad Request", {"X-Error": f"A job already exists with the name ‘{name}’"})
        try:
            ET.fromstring(request.body)
        except ET.ParseError:
            return self.error_page(500, "Server Error")
        self.state["jobs"][name] = {"config": request.body.decode(), "builds": [], "next_build": 1}
        self.save()
        return Response(200)

    def job(self, request: Request, name: str, rest: str) -> Response:
        job = self.state["jobs"].get(name)
        if job is None:
            return self.error_page(404, "Not Found")
        base = f"{self.base_url(request)}/job/{name}/"
        if rest == "/config.xml":
            if request.method == "GET":
                return Response.text(200, job["config"], "application/xml")
            try:
                ET.fromstring(request.body)
            except ET.ParseError:
                return self.error_page(500, "Server Error")
            job["config"] = request.body.decode()
            self.save()
            return Response(200)
        if rest in ("/build", "/build/") and request.method == "POST":
            item = self.enqueue(name, "Started by user", None)
            return Response(201, headers={"Location": f"{self.base_url(request)}/queue/item/{item}/"})
        if rest == "/api/json":
            builds = job["builds"]
            return Response.json(200, {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "name": name,
                                       "url": base, "buildable": True, "color": "blue", "inQueue": self.queued(name),
                                       "queueItem": None, "nextBuildNumber": job["next_build"],
                                       "lastBuild": {"number": builds[-1]["number"], "url": f"{base}{builds[-1]['number']}/"} if builds else None,
                                       "builds": [{"number": b["number"], "url": f"{base}{b['number']}/"} for b in reversed(builds)]})
        match = re.match(r"^/(\d+|lastBuild)/(api/json|consoleText)$", rest)
        if match:
            builds = job["builds"]
            found = builds[-1:] if match.group(1) == "lastBuild" else [b for b in builds if str(b["number"]) == match.group(1)]
            if not found:
                return self.error_page(404, "Not Found")
            build = self.progress(found[0])
            if match.group(2) == "consoleText":
                return Response.text(200, build["console"])
            return Response.json(200, {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": build["number"],
                                       "url": f"{base}{build['number']}/", "building": build["result"] is None,
                                       "inProgress": build["result"] is None, "result": build["result"],
                                       "duration": 0, "timestamp": int(build["started"] * 1000), "queueId": build["queue_id"]})
        return self.error_page(404, "Not Found")

    def queued(self, name: str) -> bool:
        return any(i["job"] == name and i["left"] is None for i in self.state["queue"].values())

    def enqueue(self, name: str, cause: str, revision: str | None) -> int:
        item_id = self.state["next_queue_id"]
        self.state["next_queue_id"] += 1
        self.state["queue"][str(item_id)] = {"id": item_id, "job": name, "since": time.time(), "cause": cause,
                                             "revision": revision, "left": None, "number": None}
        self.save()
        return item_id

    def queue_item(self, request: Request, path: str) -> Response:
        match = re.match(r"^/queue/item/(\d+)/api/json$", path)
        item = self.state["queue"].get(match.group(1)) if match else None
        if item is None:
            return self.error_page(404, "Not Found")
        self.advance(item)
        task = {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "name": item["job"],
                "url": f"{self.base_url(request)}/job/{item['job']}/"}
        body = {"id": item["id"], "blocked": False, "buildable": item["left"] is None, "stuck": False,
                "inQueueSince": int(item["since"] * 1000), "task": task, "why": "In the quiet period" if item["left"] is None else None}
        if item["left"] is not None:
            url = f"{self.base_url(request)}/job/{item['job']}/{item['number']}/"
            body.update({"_class": "hudson.model.Queue$LeftItem", "cancelled": False,
                         "executable": {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                                        "number": item["number"], "url": url}})
        else:
            body["_class"] = "hudson.model.Queue$WaitingItem"
        return Response.json(200, body)

    def advance(self, item: dict) -> None:
        """After the quiet period a queue item leaves the queue and becomes a build."""
        if item["left"] is not None or time.time() - item["since"] < QUIET_PERIOD:
            return
        job = self.state["jobs"][item["job"]]
        number = job["next_build"]
        job["next_build"] += 1
        job["builds"].append({"number": number, "queue_id": item["id"], "started": time.time(), "result": None,
                              "revision": item["revision"], "cause": item["cause"],
                              "console": f"{item['cause']}\nThis Jenkins is a test double: it does not run pipelines.\n"})
        item["left"], item["number"] = time.time(), number
        self.save()

    def progress(self, build: dict) -> dict:
        if build["result"] is None and time.time() - build["started"] >= 1:
            build["result"] = "SUCCESS"
            build["console"] += "Finished: SUCCESS\n"
            self.save()
        return build

    def tick(self) -> None:
        """Queue items become builds and builds finish even when nobody asks (as in Jenkins)."""
        while True:
            time.sleep(0.5)
            with self.lock:
                for item in list(self.state["queue"].values()):
                    self.advance(item)
                for job in self.state["jobs"].values():
                    for build in job["builds"]:
                        self.progress(build)

    # git plugin: notifyCommit and polling ----------------------------------------------------

    def notify_commit(self, request: Request) -> Response:
        token = request.query.get("token")
        if not token:
            return Response.text(401, NOTIFY_TOKEN_REQUIRED)
        if hashed(token) not in {t["hash"] for t in self.state["notify_tokens"].values()}:
            return Response.text(403, "Invalid access token")
        url = request.query.get("url", "")
        branches = request.query.get("branches", "")
        with self.lock:
            jobs = [name for name, job in self.state["jobs"].items() if self.job_matches(job["config"], url)]
        if not jobs:
            return Response.text(200, f"No git jobs using repository: {url} and branches: {branches}\n")
        for name in jobs:
            threading.Thread(target=self.poll, args=(name,), daemon=True).start()
        return Response.text(200, "".join(f"Scheduled polling of {name}\n" for name in jobs))

    @staticmethod
    def scm(config: str) -> dict | None:
        try:
            root = ET.fromstring(config)
        except ET.ParseError:
            return None
        trigger = root.find(".//hudson.triggers.SCMTrigger")
        scm = root.find(".//scm[@class='hudson.plugins.git.GitSCM']")
        if trigger is None or scm is None:
            return None
        return {"ignore_hooks": (trigger.findtext("ignorePostCommitHooks") or "false").strip() == "true",
                "url": scm.findtext(".//hudson.plugins.git.UserRemoteConfig/url") or "",
                "credentials": scm.findtext(".//hudson.plugins.git.UserRemoteConfig/credentialsId") or "",
                "branch": scm.findtext(".//hudson.plugins.git.BranchSpec/name") or "**"}

    def job_matches(self, config: str, url: str) -> bool:
        scm = self.scm(config)
        return scm is not None and not scm["ignore_hooks"] and loose_url(scm["url"]) == loose_url(url)

    def poll(self, name: str) -> None:
        with self.lock:
            job = self.state["jobs"][name]
            scm = self.scm(job["config"])
            credential = self.state["credentials"].get(scm["credentials"], {})
            last = next((b["revision"] for b in reversed(job["builds"]) if b.get("revision")), None)
        head = self.ls_remote(scm["url"], scm["branch"], credential)
        print(f"polling {name}: {scm['url']} {scm['branch']} -> {head} (last built {last})", flush=True)
        if head is None or head == last:
            return
        with self.lock:
            if not any(i["job"] == name and i["left"] is None for i in self.state["queue"].values()):
                self.enqueue(name, "Started by an SCM change", head)

    @staticmethod
    def ls_remote(url: str, branch: str, credential: dict) -> str | None:
        ref = "refs/heads/" + branch.split("/", 1)[1] if branch.startswith("*/") else branch
        with tempfile.TemporaryDirectory() as workdir:
            askpass = Path(workdir) / "askpass"
            askpass.write_text('#!/bin/sh\ncase "$1" in Username*) echo "$GIT_USER";; *) echo "$GIT_PASSWORD";; esac\n')
            askpass.chmod(0o700)
            env = {**os.environ, "GIT_ASKPASS": str(askpass), "GIT_TERMINAL_PROMPT": "0",
                   "GIT_USER": credential.get("username", ""), "GIT_PASSWORD": credential.get("password", "")}
            result = subprocess.run(["git", "ls-remote", url, ref], capture_output=True, text=True, env=env, timeout=30)
        if result.returncode != 0:
            print(f"ls-remote {url} failed: {result.stderr.strip()}", flush=True)
            return None
        line = result.stdout.split("\n", 1)[0]
        return line.split("\t", 1)[0] if line else None


def main() -> int:
    jenkins = Jenkins()
    threading.Thread(target=jenkins.tick, daemon=True).start()
    port = int(os.environ.get("JENKINS_DOUBLE_PORT", "8080"))
    server = serve(port, jenkins.handle)
    print(f"jenkins double {VERSION} listening on :{port} (booting for {BOOT_SECONDS:.0f} s)", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
