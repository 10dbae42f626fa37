"""The web page: asks the API for a number and shows it. Standard library only."""

import html
import json
import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode, urlparse

API_URL = os.environ.get("NUMBERS_API_URL", "http://api:8000")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Random numbers</title></head>
<body>
<h1>Your random number</h1>
<p>Between {low} and {high}: <strong id="number">{number}</strong></p>
<p><a href="/?{query}">Another one</a></p>
</body>
</html>
"""


class ApiError(Exception):
    pass


def fetch_number(query: str, api_url: str = API_URL) -> dict:
    """The API's answer for this query string; ApiError with the API's own message on failure."""
    try:
        with urllib.request.urlopen(f"{api_url}/rng?{query}", timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise ApiError(json.load(error).get("error", f"HTTP {error.code}")) from None
    except (urllib.error.URLError, OSError) as error:
        raise ApiError(f"numbers API unreachable: {error}") from None


def render_page(answer: dict) -> str:
    query = urlencode({"min": answer["min"], "max": answer["max"]})
    return PAGE.format(low=answer["min"], high=answer["max"], number=answer["number"], query=html.escape(query))


class Handler(BaseHTTPRequestHandler):
    fetch = staticmethod(fetch_number)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            self.send(200, "text/plain", "ok")
        elif url.path == "/":
            try:
                answer = self.fetch(url.query)
            except ApiError as exc:
                self.send(502, "text/plain", f"error: {exc}\n")
                return
            self.send(200, "text/html; charset=utf-8", render_page(answer))
        else:
            self.send(404, "text/plain", "not found\n")

    def send(self, status: int, content_type: str, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    print(f"numbers-web listening on :{port}, API at {API_URL}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
