"""A protocol-faithful stand-in for Gogs 0.13/0.14, for tests on hosts that cannot pull gogs/gogs.

It follows ../shared/reference/SERVICE_APIS.md and the transcripts recorded from a real Gogs
(reference/gogs-0.11.95), never ci-stack's client. Commands, as in the real binary:
    gogs web                      serve HTTP on [server] HTTP_PORT
    gogs admin create-user ...    create a user in the database `gogs web` created
Git smart HTTP is served by real git (`git http-backend`); pushes deliver webhooks.
"""

from __future__ import annotations

import argparse
import configparser
import datetime
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.request
import uuid
from pathlib import Path

# httpd.py sits beside this file in the image, and in ../common in the repository.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent / "common")]
from httpd import Request, Response, Router, serve  # noqa: E402

DOCS_URL = "https://github.com/gogs/docs-api"
RESERVED_NAMES = {"-", "explore", "create", "assets", "css", "img", "js", "less", "plugins", "debug", "raw",
                  "install", "api", "avatar", "user", "org", "help", "stars", "issues", "pulls", "commits",
                  "repo", "template", "admin", "new", ".", ".."}
HOOK_TYPES_ALL = ("gogs", "slack", "discord", "dingtalk")
HOOK_EVENTS = ("create", "delete", "fork", "push", "issues", "issue_comment", "pull_request", "release")
ZERO_SHA = "0" * 40
ZERO_TIME = "0001-01-01T00:00:00Z"
BLOCKED_MESSAGE = "Payload URL resolved to a local network address that is implicitly blocked."

SCHEMA = """
CREATE TABLE IF NOT EXISTS user (id INTEGER PRIMARY KEY, name TEXT UNIQUE, email TEXT, passwd TEXT,
    is_admin INTEGER DEFAULT 0, is_org INTEGER DEFAULT 0, full_name TEXT DEFAULT '', description TEXT DEFAULT '');
CREATE TABLE IF NOT EXISTS org_owner (org_id INTEGER, user_id INTEGER);
CREATE TABLE IF NOT EXISTS access_token (id INTEGER PRIMARY KEY, uid INTEGER, name TEXT, sha256 TEXT);
CREATE TABLE IF NOT EXISTS repository (id INTEGER PRIMARY KEY, owner_id INTEGER, name TEXT, description TEXT,
    private INTEGER, created TEXT);
CREATE TABLE IF NOT EXISTS collaboration (repo_id INTEGER, user_id INTEGER, mode TEXT);
CREATE TABLE IF NOT EXISTS webhook (id INTEGER PRIMARY KEY, repo_id INTEGER, type TEXT, url TEXT,
    content_type TEXT, secret TEXT, events TEXT, active INTEGER, created TEXT, updated TEXT, extra TEXT);
CREATE TABLE IF NOT EXISTS hook_task (id INTEGER PRIMARY KEY, hook_id INTEGER, uuid TEXT, url TEXT,
    event TEXT, signature TEXT, payload TEXT, delivered INTEGER, status INTEGER, response TEXT);
"""


# -- configuration --------------------------------------------------------------------------

class Settings:
    def __init__(self, path: Path):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str
        parser.read_string("[DEFAULT_SECTION]\n" + path.read_text())

        def get(section: str, key: str, default: str = "") -> str:
            return parser.get(section, key, fallback=default).split(";")[0].strip()

        self.run_user = get("DEFAULT_SECTION", "RUN_USER", "git")
        self.install_lock = get("security", "INSTALL_LOCK").lower() == "true"
        # 0.13 reads EXTERNAL_URL only; ROOT_URL is silently ignored.
        self.external_url = get("server", "EXTERNAL_URL", "http://localhost:3000/").rstrip("/") + "/"
        self.http_port = int(get("server", "HTTP_PORT", "3000"))
        self.db_path = Path(get("database", "PATH", "/data/gogs/data/gogs.db"))
        self.repo_root = Path(get("repository", "ROOT", "/data/git/gogs-repositories"))
        self.default_branch = get("repository", "DEFAULT_BRANCH", "master")
        self.allowlist = [h.strip() for h in get("security", "LOCAL_NETWORK_ALLOWLIST").split(",") if h.strip()]
        self.hook_types = [t.strip() for t in get("webhook", "TYPES", ",".join(HOOK_TYPES_ALL)).split(",")]
        self.deliver_timeout = int(get("webhook", "DELIVER_TIMEOUT", "15"))


def config_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    custom = os.environ.get("GOGS_CUSTOM") or str(Path.cwd() / "custom")
    return Path(custom) / "conf" / "app.ini"


def check_run_user(settings: Settings) -> None:
    current = os.environ.get("USER") or os.environ.get("USERNAME") or getpass.getuser()
    if settings.install_lock and current != settings.run_user:
        sys.exit(f"Failed to start application: user configured to run Gogs is \"{settings.run_user}\", "
                 f"but the current user is \"{current}\"")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(5)
    return salt + "$" + hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 10000).hex()


def password_ok(stored: str, password: str) -> bool:
    salt = stored.split("$", 1)[0]
    return hmac.compare_digest(stored, hash_password(password, salt))


# -- the database ---------------------------------------------------------------------------

class Store:
    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        db.row_factory = sqlite3.Row
        return db

    def query(self, sql: str, *args) -> list[sqlite3.Row]:
        with self.lock, self.connect() as db:
            return db.execute(sql, args).fetchall()

    def one(self, sql: str, *args) -> sqlite3.Row | None:
        rows = self.query(sql, *args)
        return rows[0] if rows else None

    def execute(self, sql: str, *args) -> int:
        with self.lock, self.connect() as db:
            return db.execute(sql, args).lastrowid

    def user(self, name: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM user WHERE lower(name) = lower(?)", name)


def create_user(store: Store, name: str, email: str, password: str, admin: bool = False, is_org: bool = False) -> str | None:
    """Returns an error message as Gogs 0.13 words it, or None."""
    if name.lower() in RESERVED_NAMES:
        return f"name is not allowed: map[name:{name}]"
    if store.user(name):
        return f"user already exists: map[name:{name}]"
    if email and store.one("SELECT id FROM user WHERE lower(email) = lower(?)", email):
        return f"email has been used: map[email:{email}]"
    store.execute("INSERT INTO user (name, email, passwd, is_admin, is_org) VALUES (?, ?, ?, ?, ?)",
                  name, email, hash_password(password) if password else "", int(admin), int(is_org))
    return None


# -- CLI: gogs admin create-user -------------------------------------------------------------

def admin_create_user(args) -> int:
    settings = Settings(config_path(args.config))
    check_run_user(settings)
    for flag in ("name", "password", "email"):
        if not getattr(args, flag):
            print(f"{flag.capitalize() if flag != 'name' else 'Username'} is not specified", file=sys.stderr)
            return 1
    store = Store(settings.db_path)
    try:
        store.query("SELECT 1 FROM user LIMIT 1")  # the table exists only once `gogs web` has started
    except sqlite3.OperationalError as exc:
        print(f"Failed to start application: create user: {exc}", file=sys.stderr)
        return 1
    error = create_user(store, args.name, args.email, args.password, admin=args.admin)
    if error:
        print(f"Failed to start application: create user: {error}", file=sys.stderr)
        return 1
    print(f'New user "{args.name}" has been successfully created!')
    return 0


# -- the web server ---------------------------------------------------------------------------

class Gogs:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.db_path.parent.mkdir(parents=True, exist_ok=True)
        settings.repo_root.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.db_path)
        with self.store.connect() as db:
            db.executescript(SCHEMA)
        self.router = Router()
        self._routes()

    # JSON shapes ---------------------------------------------------------------------------

    def user_json(self, row, show_email: bool = True) -> dict:
        return {"id": row["id"], "username": row["name"], "login": row["name"], "full_name": row["full_name"],
                "email": row["email"] if show_email else "",
                "avatar_url": f"{self.settings.external_url}avatars/{row['id']}"}

    def org_json(self, row) -> dict:
        return {"id": row["id"], "username": row["name"], "full_name": row["full_name"],
                "avatar_url": f"{self.settings.external_url}avatars/{row['id']}", "description": row["description"],
                "website": "", "location": ""}

    def repo_path(self, owner: str, name: str) -> Path:
        return self.settings.repo_root / owner.lower() / f"{name.lower()}.git"

    def repo_json(self, repo, viewer=None, fresh: bool = False) -> dict:
        owner = self.store.one("SELECT * FROM user WHERE id = ?", repo["owner_id"])
        path = self.repo_path(owner["name"], repo["name"])
        empty = not any(self.refs(path).values()) if path.exists() else True
        full = f"{owner['name']}/{repo['name']}"
        admin = viewer is not None and self.can_admin(viewer, repo)
        return {"id": repo["id"], "owner": self.user_json(owner, show_email=viewer is not None), "name": repo["name"],
                "full_name": full, "description": repo["description"], "private": bool(repo["private"]),
                "fork": False, "parent": None, "empty": False if fresh else empty, "mirror": False, "size": 0,
                "html_url": f"{self.settings.external_url}{full}",
                "ssh_url": f"git@{self.settings.external_url.split('//')[1].split(':')[0].split('/')[0]}:{full}.git",
                "clone_url": f"{self.settings.external_url}{full}.git", "website": "", "stars_count": 0,
                "forks_count": 0, "watchers_count": 0, "open_issues_count": 0,
                "default_branch": "" if fresh else self.settings.default_branch,
                "created_at": ZERO_TIME if fresh else repo["created"], "updated_at": ZERO_TIME if fresh else repo["created"],
                "permissions": {"admin": admin, "push": admin or self.collab_mode(viewer, repo) in ("write", "admin"),
                                "pull": True}}

    def hook_json(self, hook, fresh: bool = False) -> dict:
        config = {"content_type": hook["content_type"], "url": hook["url"], **json.loads(hook["extra"] or "{}")}
        return {"id": hook["id"], "type": hook["type"], "config": dict(sorted(config.items())),
                "events": json.loads(hook["events"]), "active": bool(hook["active"]),
                "updated_at": ZERO_TIME if fresh else hook["updated"], "created_at": ZERO_TIME if fresh else hook["created"]}

    # auth -----------------------------------------------------------------------------------

    def authenticate(self, request: Request):
        """Returns (user row or None, how): how is 'token', 'basic' or None. Bad credentials fall
        through to anonymous, as in Gogs' context/auth.go. Query tokens were removed in 0.14.2."""
        value = request.header("authorization") or ""
        if value.startswith("token "):
            user = self.token_user(value[6:].strip())
            return (user, "token") if user else (None, None)
        creds = request.basic_auth()
        if creds:
            user = self.store.user(creds[0])
            if user and not user["is_org"] and user["passwd"] and password_ok(user["passwd"], creds[1]):
                return user, "basic"
        return None, None

    def token_user(self, raw: str):
        digest = hashlib.sha256(raw.encode()).hexdigest()
        token = self.store.one("SELECT uid FROM access_token WHERE sha256 = ?", digest)
        return self.store.one("SELECT * FROM user WHERE id = ?", token["uid"]) if token else None

    def collab_mode(self, user, repo) -> str | None:
        if user is None:
            return None
        row = self.store.one("SELECT mode FROM collaboration WHERE repo_id = ? AND user_id = ?", repo["id"], user["id"])
        return row["mode"] if row else None

    def can_admin(self, user, repo) -> bool:
        if user is None:
            return False
        if user["is_admin"] or user["id"] == repo["owner_id"]:
            return True
        if self.store.one("SELECT 1 FROM org_owner WHERE org_id = ? AND user_id = ?", repo["owner_id"], user["id"]):
            return True
        return self.collab_mode(user, repo) == "admin"

    def can_read(self, user, repo) -> bool:
        return not repo["private"] or self.can_admin(user, repo) or self.collab_mode(user, repo) is not None

    def can_write(self, user, repo) -> bool:
        return self.can_admin(user, repo) or self.collab_mode(user, repo) in ("write", "admin")

    def find_repo(self, owner: str, name: str):
        owner_row = self.store.user(owner)
        if owner_row is None:
            return None
        return self.store.one("SELECT * FROM repository WHERE owner_id = ? AND lower(name) = lower(?)",
                              owner_row["id"], name)

    # dispatch -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if not self.settings.install_lock:
            if request.path.startswith("/install"):
                return Response.text(200, "<html>install</html>", "text/html; charset=UTF-8")
            return Response(302, headers={"Location": "/install"})
        if request.path == "/healthcheck":
            return Response.text(200, "* Database connection: OK\n", "text/plain; charset=utf-8")
        if request.path.startswith("/install"):
            return Response(404)
        if ".git/" in request.path or request.path.endswith(".git"):
            return self.git_http(request)
        try:
            response = self.router.dispatch(request)
        except (ValueError, KeyError, TypeError):
            return Response.json(400, [{"classification": "DeserializationError", "message": "invalid JSON"}])
        if response is None:
            return Response.text(404, "<!DOCTYPE html><html><title>Page Not Found - Gogs</title></html>",
                                 "text/html; charset=UTF-8")
        return response

    @staticmethod
    def error(status: int, message: str) -> Response:
        return Response.json(status, {"message": message, "url": DOCS_URL})

    @staticmethod
    def required(body: dict, *names: str) -> Response | None:
        missing = [n for n in names if not body.get(n)]
        if missing:
            return Response.json(422, [{"fieldNames": [m.capitalize() for m in missing],
                                        "classification": "RequiredError", "message": "Required"}])
        return None

    def guard(self, request: Request, need: str):
        """reqToken / reqBasicAuth / reqAdmin / signed-in, as in api.go. Returns (user, error)."""
        user, how = self.authenticate(request)
        if need == "token" and how != "token":
            return None, Response(401)
        if need == "basic" and how != "basic":
            return None, Response(401)
        if need == "admin":
            if user is None:
                return None, Response(403)
            if not user["is_admin"]:
                return None, Response(403)
        return user, None

    def _routes(self) -> None:
        route = self.router.route
        name = r"(?P<{}>[A-Za-z0-9_.-]+)"
        u, o, r, h = name.format("user"), name.format("owner"), name.format("repo"), r"(?P<hook>\d+)"

        @route("GET", "/api/v1/user")
        def current_user(request):
            user, error = self.guard(request, "token")
            return error or Response.json(200, self.user_json(user))

        @route("GET", f"/api/v1/users/{u}")
        def get_user(request):
            found = self.store.user(request.params["user"])
            if found is None:
                return Response(404)
            viewer, _ = self.authenticate(request)
            return Response.json(200, self.user_json(found, show_email=viewer is not None))

        @route("GET", f"/api/v1/users/{u}/tokens")
        def list_tokens(request):
            user, error = self.guard(request, "basic")
            if error:
                return error
            rows = self.store.query("SELECT name, sha256 FROM access_token WHERE uid = ? ORDER BY id", user["id"])
            # 0.13+: only a hash is stored; the listed sha1 is its first 40 characters, unusable as a token.
            return Response.json(200, [{"name": t["name"], "sha1": t["sha256"][:40]} for t in rows])

        @route("POST", f"/api/v1/users/{u}/tokens")
        def create_token(request):
            user, error = self.guard(request, "basic")
            if error:
                return error
            body = request.json() or {}
            error = self.required(body, "name")
            if error:
                return error
            if self.store.one("SELECT 1 FROM access_token WHERE uid = ? AND name = ?", user["id"], body["name"]):
                return self.error(422, f"access token already exists: map[name:{body['name']} userID:{user['id']}]")
            raw = secrets.token_hex(20)
            self.store.execute("INSERT INTO access_token (uid, name, sha256) VALUES (?, ?, ?)",
                               user["id"], body["name"], hashlib.sha256(raw.encode()).hexdigest())
            return Response.json(201, {"name": body["name"], "sha1": raw})

        @route("POST", "/api/v1/admin/users")
        def admin_create_user(request):
            _, error = self.guard(request, "admin")
            if error:
                return error
            body = request.json() or {}
            error = self.required(body, "username", "email")
            if error:
                return error
            message = create_user(self.store, body["username"], body["email"], body.get("password") or "")
            if message:
                return self.error(422, message)
            return Response.json(201, self.user_json(self.store.user(body["username"])))

        @route("PATCH", f"/api/v1/admin/users/{u}")
        def admin_edit_user(request):
            _, error = self.guard(request, "admin")
            if error:
                return error
            found = self.store.user(request.params["user"])
            if found is None:
                return Response(404)
            body = request.json() or {}
            error = self.required(body, "email")
            if error:
                return error
            if body.get("password"):
                self.store.execute("UPDATE user SET passwd = ? WHERE id = ?", hash_password(body["password"]), found["id"])
            self.store.execute("UPDATE user SET email = ? WHERE id = ?", body["email"], found["id"])
            if "admin" in body:
                self.store.execute("UPDATE user SET is_admin = ? WHERE id = ?", int(bool(body["admin"])), found["id"])
            return Response.json(200, self.user_json(self.store.user(found["name"])))

        @route("POST", f"/api/v1/admin/users/{u}/orgs")
        def admin_create_org(request):
            _, error = self.guard(request, "admin")
            if error:
                return error
            owner = self.store.user(request.params["user"])
            if owner is None:
                return Response(404)
            body = request.json() or {}
            error = self.required(body, "username")
            if error:
                return error
            message = create_user(self.store, body["username"], "", "", is_org=True)
            if message:
                return self.error(422, message)
            org = self.store.user(body["username"])
            self.store.execute("UPDATE user SET full_name = ?, description = ? WHERE id = ?",
                               body.get("full_name", ""), body.get("description", ""), org["id"])
            self.store.execute("INSERT INTO org_owner (org_id, user_id) VALUES (?, ?)", org["id"], owner["id"])
            return Response.json(201, self.org_json(self.store.user(body["username"])))

        @route("GET", f"/api/v1/orgs/{o}")
        def get_org(request):
            org = self.store.user(request.params["owner"])
            if org is None or not org["is_org"]:
                return Response(404)
            return Response.json(200, self.org_json(org))

        def create_repo(request, owner_row, viewer):
            body = request.json() or {}
            error = self.required(body, "name")
            if error:
                return error
            if not all(c.isalnum() or c in "-_." for c in body["name"]):
                return Response.json(422, [{"fieldNames": ["Name"], "classification": "AlphaDashDotError",
                                            "message": "AlphaDashDot"}])
            if self.find_repo(owner_row["name"], body["name"]):
                return self.error(422, f"repository already exists: map[name:{body['name']} ownerID:{owner_row['id']}]")
            repo_id = self.store.execute(
                "INSERT INTO repository (owner_id, name, description, private, created) VALUES (?, ?, ?, ?, ?)",
                owner_row["id"], body["name"], body.get("description", ""), int(bool(body.get("private"))), now())
            path = self.repo_path(owner_row["name"], body["name"])
            subprocess.run(["git", "init", "--bare", "-q", f"--initial-branch={self.settings.default_branch}", str(path)],
                           check=True)
            subprocess.run(["git", "-C", str(path), "config", "http.receivepack", "true"], check=True)
            if body.get("auto_init"):
                self.initial_commit(path, body["name"], body.get("description", ""))
            repo = self.store.one("SELECT * FROM repository WHERE id = ?", repo_id)
            return Response.json(201, self.repo_json(repo, viewer, fresh=True))

        @route("POST", "/api/v1/user/repos")
        def create_user_repo(request):
            user, error = self.guard(request, "token")
            return error or create_repo(request, user, user)

        @route("POST", f"/api/v1/org/{o}/repos")
        def create_org_repo(request):
            user, error = self.guard(request, "token")
            if error:
                return error
            org = self.store.user(request.params["owner"])
            if org is None or not org["is_org"]:
                return Response(404)
            if not self.store.one("SELECT 1 FROM org_owner WHERE org_id = ? AND user_id = ?", org["id"], user["id"]):
                return self.error(403, "Given user is not owner of organization.")
            return create_repo(request, org, user)

        @route("GET", "/api/v1/user/repos")
        def list_user_repos(request):
            user, error = self.guard(request, "token")
            if error:
                return error
            rows = self.store.query("SELECT * FROM repository WHERE owner_id = ? ORDER BY id", user["id"])
            return Response.json(200, [self.repo_json(row, user) for row in rows])

        def repo_or_404(request, need_admin: bool = False):
            viewer, _ = self.authenticate(request)
            repo = self.find_repo(request.params["owner"], request.params["repo"])
            if repo is None or not self.can_read(viewer, repo):
                return None, None, Response(404)
            if need_admin:
                user, error = self.guard(request, "token")
                if error:
                    return None, None, error
                if not self.can_admin(user, repo):
                    return None, None, Response(403)
            return viewer, repo, None

        @route("GET", f"/api/v1/repos/{o}/{r}")
        def get_repo(request):
            viewer, repo, error = repo_or_404(request)
            return error or Response.json(200, self.repo_json(repo, viewer))

        @route("DELETE", f"/api/v1/repos/{o}/{r}")
        def delete_repo(request):
            _, repo, error = repo_or_404(request, need_admin=True)
            if error:
                return error
            owner = self.store.one("SELECT name FROM user WHERE id = ?", repo["owner_id"])
            subprocess.run(["rm", "-rf", str(self.repo_path(owner["name"], repo["name"]))], check=True)
            for table in ("repository WHERE id", "collaboration WHERE repo_id", "webhook WHERE repo_id"):
                self.store.execute(f"DELETE FROM {table} = ?", repo["id"])
            return Response(204)

        @route("GET", f"/api/v1/repos/{o}/{r}/collaborators")
        def list_collaborators(request):
            _, repo, error = repo_or_404(request, need_admin=False)
            if error:
                return error
            rows = self.store.query("SELECT u.*, c.mode FROM collaboration c JOIN user u ON u.id = c.user_id "
                                    "WHERE c.repo_id = ? ORDER BY u.id", repo["id"])
            return Response.json(200, [{**self.user_json(row), "permissions": {
                "admin": row["mode"] == "admin", "push": row["mode"] in ("write", "admin"), "pull": True}}
                for row in rows])

        @route("PUT", f"/api/v1/repos/{o}/{r}/collaborators/(?P<collaborator>[A-Za-z0-9_.-]+)")
        def add_collaborator(request):
            _, repo, error = repo_or_404(request, need_admin=True)
            if error:
                return error
            user = self.store.user(request.params["collaborator"])
            if user is None:
                return self.error(422, f"user does not exist: map[name:{request.params['collaborator']}]")
            mode = (request.json() or {}).get("permission") or "write"
            self.store.execute("DELETE FROM collaboration WHERE repo_id = ? AND user_id = ?", repo["id"], user["id"])
            self.store.execute("INSERT INTO collaboration (repo_id, user_id, mode) VALUES (?, ?, ?)",
                               repo["id"], user["id"], mode)
            return Response(204)

        @route("GET", f"/api/v1/repos/{o}/{r}/hooks")
        def list_hooks(request):
            _, repo, error = repo_or_404(request, need_admin=True)
            if error:
                return error
            rows = self.store.query("SELECT * FROM webhook WHERE repo_id = ? ORDER BY id", repo["id"])
            return Response.json(200, [self.hook_json(row) for row in rows])

        @route("POST", f"/api/v1/repos/{o}/{r}/hooks")
        def create_hook(request):
            _, repo, error = repo_or_404(request, need_admin=True)
            if error:
                return error
            body = request.json() or {}
            error = self.required(body, "type", "config")
            if error:
                return error
            if body["type"] not in self.settings.hook_types:
                return self.error(422, "Invalid hook type")
            config = body["config"]
            for option in ("url", "content_type"):
                if not config.get(option):
                    return self.error(422, f"Missing config option: {option}")
            if config["content_type"] not in ("json", "form"):
                return self.error(422, "Invalid content type.")
            if body["type"] == "slack" and not config.get("channel"):
                return self.error(422, "Missing config option: channel")
            extra = {k: config.get(k, "") for k in ("channel", "color", "icon_url", "username")} if body["type"] == "slack" else {}
            stamp = now()
            hook_id = self.store.execute(
                "INSERT INTO webhook (repo_id, type, url, content_type, secret, events, active, created, updated, extra) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", repo["id"], body["type"], config["url"], config["content_type"],
                config.get("secret", ""), json.dumps(self.events(body.get("events"))), int(bool(body.get("active"))),
                stamp, stamp, json.dumps(extra))
            return Response.json(201, self.hook_json(self.store.one("SELECT * FROM webhook WHERE id = ?", hook_id), fresh=True))

        @route("PATCH", f"/api/v1/repos/{o}/{r}/hooks/{h}")
        def edit_hook(request):
            _, repo, error = repo_or_404(request, need_admin=True)
            if error:
                return error
            hook = self.store.one("SELECT * FROM webhook WHERE id = ? AND repo_id = ?", int(request.params["hook"]), repo["id"])
            if hook is None:
                return Response(404)
            body = request.json() or {}
            config = body.get("config") or {}
            self.store.execute(
                "UPDATE webhook SET url = ?, content_type = ?, secret = ?, events = ?, active = ?, updated = ? WHERE id = ?",
                config.get("url", hook["url"]), config.get("content_type", hook["content_type"]),
                config.get("secret", hook["secret"]),
                json.dumps(self.events(body["events"])) if body.get("events") else hook["events"],
                int(bool(body["active"])) if "active" in body else hook["active"], now(), hook["id"])
            return Response.json(200, self.hook_json(self.store.one("SELECT * FROM webhook WHERE id = ?", hook["id"])))

        @route("DELETE", f"/api/v1/repos/{o}/{r}/hooks/{h}")
        def delete_hook(request):
            _, repo, error = repo_or_404(request, need_admin=True)
            if error:
                return error
            self.store.execute("DELETE FROM webhook WHERE id = ? AND repo_id = ?", int(request.params["hook"]), repo["id"])
            return Response(204)  # also for a hook that does not exist, as recorded

    @staticmethod
    def events(requested) -> list[str]:
        wanted = set(requested or ["push"])
        return [event for event in HOOK_EVENTS if event in wanted]

    def initial_commit(self, path: Path, name: str, description: str) -> None:
        env = {**os.environ, "GIT_AUTHOR_NAME": "Gogs", "GIT_AUTHOR_EMAIL": "gogs@localhost",
               "GIT_COMMITTER_NAME": "Gogs", "GIT_COMMITTER_EMAIL": "gogs@localhost", "GIT_DIR": str(path)}
        blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], input=f"# {name}\n\n{description}\n",
                              capture_output=True, text=True, env=env, check=True).stdout.strip()
        tree = subprocess.run(["git", "mktree"], input=f"100644 blob {blob}\tREADME.md\n", capture_output=True,
                              text=True, env=env, check=True).stdout.strip()
        commit = subprocess.run(["git", "commit-tree", tree, "-m", "Initial commit"], capture_output=True,
                                text=True, env=env, check=True).stdout.strip()
        subprocess.run(["git", "update-ref", f"refs/heads/{self.settings.default_branch}", commit], env=env, check=True)

    # git smart HTTP ---------------------------------------------------------------------------

    @staticmethod
    def refs(path: Path) -> dict[str, str]:
        out = subprocess.run(["git", "-C", str(path), "for-each-ref", "--format=%(refname) %(objectname)"],
                             capture_output=True, text=True).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def git_user(self, request: Request):
        """user:password, then the token as username, then as password (0.13+)."""
        creds = request.basic_auth()
        if not creds:
            return None, False
        user = self.store.user(creds[0])
        if user and user["passwd"] and password_ok(user["passwd"], creds[1]):
            return user, True
        for candidate in creds:
            token_user = self.token_user(candidate)
            if token_user:
                return token_user, True
        return None, True

    def git_http(self, request: Request) -> Response:
        owner, _, rest = request.path.lstrip("/").partition("/")
        repo_name, _, service_path = rest.partition(".git")
        repo = self.find_repo(owner, repo_name)
        if repo is None:
            return Response(404)
        pushing = request.query.get("service") == "git-receive-pack" or service_path == "/git-receive-pack"
        user, tried = self.git_user(request)
        needs_auth = pushing or repo["private"]
        if needs_auth and user is None:
            return Response.text(401, "Unauthorized\n", headers={"WWW-Authenticate": 'Basic realm="."'})
        if (pushing and not self.can_write(user, repo)) or (not pushing and not self.can_read(user, repo)):
            return Response.text(403, "User permission denied\n")
        path = self.repo_path(owner, repo_name)
        before = self.refs(path) if service_path == "/git-receive-pack" else None
        response = self.http_backend(request, path, service_path, user)
        if before is not None:
            self.after_push(repo, path, before, self.refs(path), user)
        return response

    def http_backend(self, request: Request, path: Path, service_path: str, user) -> Response:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(path.parent),
               "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": f"/{path.name}{service_path}",
               "REQUEST_METHOD": request.method, "QUERY_STRING": "&".join(f"{k}={v}" for k, v in request.query.items()),
               "CONTENT_TYPE": request.header("content-type") or "", "CONTENT_LENGTH": str(len(request.body)),
               "REMOTE_USER": user["name"] if user else "", "REMOTE_ADDR": request.client_ip}
        if request.header("content-encoding"):
            env["HTTP_CONTENT_ENCODING"] = request.header("content-encoding")
        if request.header("git-protocol"):
            env["GIT_PROTOCOL"] = request.header("git-protocol")
        result = subprocess.run(["git", "http-backend"], input=request.body, capture_output=True, env=env)
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers[key] = value.strip()
        return Response(status, body, headers)

    # webhooks ---------------------------------------------------------------------------------

    def after_push(self, repo, path: Path, before: dict, after: dict, pusher) -> None:
        for ref, new in after.items():
            old = before.get(ref, ZERO_SHA)
            if old != new:
                payload = self.push_payload(repo, path, ref, old, new, pusher)
                self.deliver(repo, "push", payload)

    def push_payload(self, repo, path: Path, ref: str, old: str, new: str, pusher) -> dict:
        span = new if old == ZERO_SHA else f"{old}..{new}"
        log = subprocess.run(["git", "-C", str(path), "log", "--max-count=10", "--format=%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%cI%x1f%B%x1e", span],
                             capture_output=True, text=True).stdout
        repo_json = self.repo_json(repo, pusher)
        commits = []
        for entry in filter(str.strip, log.split("\x1e")):
            sha, an, ae, cn, ce, when, message = entry.strip("\n").split("\x1f")
            commits.append({"id": sha, "message": message.strip() + "\n", "url": f"{repo_json['html_url']}/commit/{sha}",
                            "author": {"name": an, "email": ae, "username": ""},
                            "committer": {"name": cn, "email": ce, "username": ""},
                            "added": [], "removed": [], "modified": [], "timestamp": when})
        user = self.user_json(pusher) if pusher else {}
        return {"ref": ref, "before": old, "after": new,
                "compare_url": f"{repo_json['html_url']}/compare/{old}...{new}", "commits": commits,
                "repository": repo_json, "pusher": user, "sender": user}

    def blocked(self, url: str) -> bool:
        """Gogs' netutil: a hostname resolving to a local address is blocked unless allowlisted."""
        host = url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        if "*" in self.settings.allowlist or host in self.settings.allowlist:
            return False
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False  # resolution fails later, at delivery
        return any(not ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses)

    def deliver(self, repo, event: str, payload: dict) -> None:
        hooks = self.store.query("SELECT * FROM webhook WHERE repo_id = ? AND active = 1", repo["id"])
        for hook in hooks:
            if event not in json.loads(hook["events"]):
                continue
            body = json.dumps(payload, indent=2).encode()
            signature = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest() if hook["secret"] else ""
            delivery = str(uuid.uuid4())
            task = self.store.execute(
                "INSERT INTO hook_task (hook_id, uuid, url, event, signature, payload, delivered, status, response) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, 0, '')", hook["id"], delivery, hook["url"], event, signature, body.decode())
            threading.Thread(target=self._send, args=(task, hook, event, body, signature, delivery), daemon=True).start()

    def _send(self, task: int, hook, event: str, body: bytes, signature: str, delivery: str) -> None:
        if self.blocked(hook["url"]):
            self.store.execute("UPDATE hook_task SET delivered = 1, status = 0, response = ? WHERE id = ?",
                               json.dumps({"body": BLOCKED_MESSAGE}), task)
            print(f"webhook {delivery} to {hook['url']} blocked: local network", flush=True)
            return
        if hook["content_type"] == "form":
            body = ("payload=" + urllib.request.quote(body.decode())).encode()
        headers = {"Content-Type": "application/json" if hook["content_type"] == "json" else "application/x-www-form-urlencoded",
                   "User-Agent": "GogsServer", "X-Github-Delivery": delivery, "X-Github-Event": event,
                   "X-Gogs-Delivery": delivery, "X-Gogs-Event": event, "X-Gogs-Signature": signature}
        request = urllib.request.Request(hook["url"], data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.deliver_timeout) as answer:
                status, text = answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except OSError as exc:
            status, text = 0, str(exc)
        self.store.execute("UPDATE hook_task SET delivered = 1, status = ?, response = ? WHERE id = ?",
                           status, json.dumps({"status": status, "body": text}), task)
        print(f"webhook {delivery} to {hook['url']}: {status} {text.strip()[:120]}", flush=True)


def web(args) -> int:
    settings = Settings(config_path(args.config))
    check_run_user(settings)
    gogs = Gogs(settings)
    server = serve(settings.http_port, gogs.handle)
    print(f"gogs double listening on :{settings.http_port}", flush=True)
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gogs")
    commands = parser.add_subparsers(dest="command", required=True)
    web_parser = commands.add_parser("web")
    web_parser.add_argument("-c", "--config")
    admin = commands.add_parser("admin").add_subparsers(dest="admin_command", required=True)
    create = admin.add_parser("create-user")
    for flag in ("name", "password", "email"):
        create.add_argument(f"--{flag}")
    create.add_argument("--admin", action="store_true")
    create.add_argument("-c", "--config")
    args = parser.parse_args(argv)
    return web(args) if args.command == "web" else admin_create_user(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
