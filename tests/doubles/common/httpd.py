"""A tiny routed HTTP server for the test doubles (standard library only)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    client_ip: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.header("authorization") or ""
        if not value.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload, headers: dict[str, str] | None = None) -> "Response":
        return cls(status, json.dumps(payload).encode(),
                   {"Content-Type": "application/json; charset=UTF-8", **(headers or {})})

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain;charset=utf-8",
             headers: dict[str, str] | None = None) -> "Response":
        return cls(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


Handler = Callable[[Request], Response]


class Router:
    def __init__(self):
        self.routes: list[tuple[str, re.Pattern, Handler]] = []

    def route(self, method: str, pattern: str):
        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))
            return handler
        return register

    def dispatch(self, request: Request) -> Response | None:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match and method in (request.method, "*"):
                request.params = match.groupdict()
                return handler(request)
        return None


def serve(port: int, handle: Callable[[Request], Response]):
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                              {k.lower(): v for k, v in self.headers.items()}, body, client_ip=self.client_address[0])
            response = handle(request)
            self.send_response(response.status)
            for key, value in response.headers.items():
                # Jenkins' X-Error carries Unicode quotes; send them as UTF-8 bytes.
                self._headers_buffer.append(f"{key}: {value}\r\n".encode())
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, fmt, *args):
            print(f"{self.address_string()} {fmt % args}", flush=True)

    server = ThreadingHTTPServer(("0.0.0.0", port), RequestHandler)
    server.daemon_threads = True
    return server
