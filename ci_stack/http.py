"""One way to talk HTTP to the services: a requests.Session with retries, explicit timeouts and
errors that name the service, the call and the status."""

from __future__ import annotations

import time
from typing import Callable, Iterable, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ci_stack.errors import ServiceError, ServiceUnreachable

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 30
T = TypeVar("T")


def new_session() -> requests.Session:
    session = requests.Session()
    # Retry only what is safe to repeat: connection failures, and 502/504 from a proxy on GETs.
    retry = Retry(total=3, connect=3, read=0, status=2, backoff_factor=0.3,
                  status_forcelist=(502, 504), allowed_methods=frozenset({"GET", "HEAD"}),
                  raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def short_body(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


class ServiceClient:
    def __init__(self, service: str, base_url: str, session: requests.Session | None = None):
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.session = session or new_session()

    def request(self, method: str, path: str, expect: Iterable[int] = (200,), **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        call = f"{method} {path.split('?')[0]}"
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as exc:
            raise ServiceUnreachable(self.service, call, f"no answer from {self.base_url} ({type(exc).__name__})") from None
        if response.status_code not in tuple(expect):
            detail = f"HTTP {response.status_code}"
            x_error = response.headers.get("X-Error")  # Jenkins' reason; its quotes arrive as UTF-8 bytes
            body = x_error.encode("latin-1", "replace").decode("utf-8", "replace") if x_error else short_body(response)
            raise ServiceError(self.service, call, f"{detail} {body}".strip())
        return response


def wait_until(check: Callable[[], T], timeout: float, what: str, service: str, interval: float = 0.5) -> T:
    """Poll `check` until it returns something truthy, for at most `timeout` seconds; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise ServiceError(service, "wait", f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def answers(session: requests.Session, url: str, accept: Callable[[requests.Response], bool]) -> bool:
    """One readiness probe: True when the URL answers and `accept` likes the answer."""
    try:
        return accept(session.get(url, timeout=(1, 5), allow_redirects=False))
    except requests.RequestException:
        return False
