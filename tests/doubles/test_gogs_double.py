"""The Gogs double replays the calls recorded from a real Gogs (reference/gogs-0.11.95) and must
answer with the same status codes and body shapes, so drift from the real server is caught.
Where 0.13/0.14 differ from 0.11 (SERVICE_APIS.md), the newer behaviour is expected."""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

from conftest import start_server
from offline import free_port

DOUBLE = Path(__file__).resolve().parent / "gogs" / "gogs_double.py"
TRANSCRIPTS = Path(__file__).resolve().parent / "reference" / "gogs-0.11.95-api-transcripts.md"
ADMIN, ADMIN_PASSWORD, ALICE_PASSWORD = "gogsadmin", "S3cret-pass!", "alicepass123"
# 0.14.2 removed API tokens in the query string: what 0.11 accepted is now anonymous.
NEWER_STATUS = {"user_token_query": 401}


def parse_transcripts() -> list[dict]:
    calls = []
    for block in re.findall(r"### \d+\. (\w+)\n```\n(.*?)```", TRANSCRIPTS.read_text(), re.S):
        name, text = block
        request = re.match(r"(\w+) (\S+)\s+\(auth: (\w+)\)", text)
        body = re.search(r"request body: (.*)", text)
        status = int(re.search(r"--> HTTP (\d+)", text).group(1))
        answer = text.split("\n")[-2] if "Content-Type: application/json" in text else ""
        calls.append({"name": name, "method": request.group(1), "path": request.group(2), "auth": request.group(3),
                      "body": json.loads(body.group(1)) if body else None, "status": status,
                      "answer": json.loads(answer) if answer.strip() else None})
    return calls


def shape(value):
    if isinstance(value, dict):
        return {key: shape(v) for key, v in value.items() if key not in ("message",)}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
def gogs(tmp_path):
    port = free_port()
    ini = tmp_path / "app.ini"
    ini.write_text(f"RUN_USER = {getpass.getuser()}\n[server]\nEXTERNAL_URL = http://127.0.0.1:{port}/\nHTTP_PORT = {port}\n"
                   f"[database]\nTYPE = sqlite3\nPATH = {tmp_path}/gogs.db\n[repository]\nROOT = {tmp_path}/repos\n"
                   "[security]\nINSTALL_LOCK = true\nSECRET_KEY = x\nLOCAL_NETWORK_ALLOWLIST = 127.0.0.1\n")
    url = f"http://127.0.0.1:{port}"
    server = start_server([sys.executable, str(DOUBLE), "web", "-c", str(ini)], url + "/healthcheck", tmp_path / "double.log")
    try:
        yield url, ini, tmp_path
    finally:
        server.kill()
        server.wait()


def cli(ini: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DOUBLE), "admin", "create-user", "-c", str(ini), *args],
                          capture_output=True, text=True)


def test_replays_the_recorded_api_calls(gogs):
    url, ini, _ = gogs
    created = cli(ini, "--name", ADMIN, "--password", ADMIN_PASSWORD, "--email", "admin@example.com", "--admin")
    assert created.returncode == 0 and f'New user "{ADMIN}"' in created.stdout
    tokens: dict[str, str] = {}
    checked = 0
    for call in parse_transcripts():
        auth, headers = None, {}
        kind = call["auth"]
        if kind == "basic":
            auth = (ADMIN, ADMIN_PASSWORD)
        elif kind == "badpass":
            auth = (ADMIN, "wrong")
        elif kind == "alice":
            auth = ("alice", ALICE_PASSWORD)
        elif kind in ("token", "token_query"):
            headers = {"Authorization": f"token {tokens['admin']}"} if kind == "token" else {}
        elif kind == "token_alice":
            headers = {"Authorization": f"token {tokens['alice']}"}
        elif kind == "badtoken":
            headers = {"Authorization": "token " + "0" * 40}
        path = re.sub(r"token=\w+", f"token={tokens.get('admin', '')}", call["path"])
        answer = requests.request(call["method"], url + path, json=call["body"], auth=auth, headers=headers, timeout=10)
        expected = NEWER_STATUS.get(call["name"], call["status"])
        assert answer.status_code == expected, (call["name"], answer.status_code, answer.text)
        if call["answer"] is not None and expected == call["status"]:
            assert shape(answer.json()) == shape(call["answer"]), call["name"]
        if call["name"] == "token_create":
            tokens["admin"] = answer.json()["sha1"]
        if call["name"] == "alice_token_create":
            tokens["alice"] = answer.json()["sha1"]
        if call["answer"] is None and expected >= 400 and call["status"] == expected:
            assert answer.text == "" or call["name"] == "version", call["name"]
        checked += 1
    assert checked == 42


def test_admin_cli_refuses_root_and_a_database_web_has_not_made(gogs, tmp_path):
    url, ini, _ = gogs
    cli(ini, "--name", ADMIN, "--password", ADMIN_PASSWORD, "--email", "a@example.com", "--admin")
    duplicate = cli(ini, "--name", ADMIN, "--password", "x", "--email", "b@example.com", "--admin")
    assert duplicate.returncode == 1 and "user already exists" in duplicate.stderr
    fresh = tmp_path / "fresh.ini"
    fresh.write_text(ini.read_text().replace("gogs.db", "never-started.db"))
    before_web = cli(fresh, "--name", "x", "--password", "y", "--email", "x@example.com")
    assert before_web.returncode == 1 and "no such table" in before_web.stderr
    if getpass.getuser() == "root":
        as_git = tmp_path / "git.ini"
        as_git.write_text(ini.read_text().replace("RUN_USER = root", "RUN_USER = git"))
        refused = cli(as_git, "--name", "x", "--password", "y", "--email", "x@example.com")
        assert refused.returncode != 0 and 'but the current user is "root"' in refused.stderr


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_push_delivers_signed_webhooks_only_to_allowed_local_hosts(gogs, tmp_path):
    url, ini, _ = gogs
    cli(ini, "--name", ADMIN, "--password", ADMIN_PASSWORD, "--email", "a@example.com", "--admin")
    token = requests.post(f"{url}/api/v1/users/{ADMIN}/tokens", json={"name": "t"}, auth=(ADMIN, ADMIN_PASSWORD),
                          timeout=10).json()["sha1"]
    headers = {"Authorization": f"token {token}"}
    assert requests.post(f"{url}/api/v1/user/repos", json={"name": "demo"}, headers=headers, timeout=10).status_code == 201
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]
    Receiver.received.clear()
    for host in ("localhost", "127.0.0.1"):  # only 127.0.0.1 is on LOCAL_NETWORK_ALLOWLIST
        hook = {"type": "gogs", "config": {"url": f"http://{host}:{port}/{host}", "content_type": "json",
                                          "secret": "hooksecret"}, "events": ["push"], "active": True}
        assert requests.post(f"{url}/api/v1/repos/{ADMIN}/demo/hooks", json=hook, headers=headers, timeout=10).status_code == 201
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "-b", "master", str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty",
                    "-m", "first"], check=True)
    pushed = subprocess.run(["git", "-C", str(work), "push", f"http://{ADMIN}:{token}@127.0.0.1:{url.rsplit(':', 1)[1]}"
                             f"/{ADMIN}/demo.git", "master"], capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    for _ in range(50):
        if Receiver.received:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    receiver.shutdown()
    assert len(Receiver.received) == 1
    sent, body = Receiver.received[0]
    assert sent["X-Gogs-Event"] == "push" and sent["X-Gogs-Delivery"]
    assert sent["X-Gogs-Signature"] == hmac.new(b"hooksecret", body, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert body.decode() == json.dumps(payload, indent=2)
    assert payload["ref"] == "refs/heads/master" and payload["before"] == "0" * 40 and len(payload["commits"]) == 1
    anonymous_push = subprocess.run(["git", "-C", str(work), "push", f"{url}/{ADMIN}/demo.git", "master:other"],
                                    capture_output=True, text=True, env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"})
    assert anonymous_push.returncode != 0 and "could not read Username" in anonymous_push.stderr  # a 401 asked for them
