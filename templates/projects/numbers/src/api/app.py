"""The API: random numbers as JSON. Standard library only, so the image build downloads nothing."""

import json
import os
import random
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DEFAULT_RANGE = (1, 100)
LIMIT = 10**9


def parse_range(query: str) -> tuple[int, int]:
    """`min` and `max` from a query string; ValueError with a message a caller can show."""
    values = parse_qs(query)
    bounds = []
    for key, default in zip(("min", "max"), DEFAULT_RANGE):
        raw = values.get(key, [str(default)])[0]
        try:
            number = int(raw)
        except ValueError:
            raise ValueError(f"{key} must be an integer, not {raw!r}") from None
        if abs(number) > LIMIT:
            raise ValueError(f"{key} must be between {-LIMIT} and {LIMIT}")
        bounds.append(number)
    low, high = bounds
    if low > high:
        raise ValueError(f"min ({low}) is greater than max ({high})")
    return low, high


def random_number(low: int, high: int, rng: random.Random) -> int:
    return rng.randint(low, high)


class Handler(BaseHTTPRequestHandler):
    rng = random.SystemRandom()

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            self.send_json(200, {"status": "ok"})
        elif url.path == "/rng":
            try:
                low, high = parse_range(url.query)
            except ValueError as exc:
                self.send_json(400, {"error": str(exc)})
                return
            self.send_json(200, {"number": random_number(low, high, self.rng), "min": low, "max": high})
        else:
            self.send_json(404, {"error": f"no route {url.path}"})

    def send_json(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # one line per request on stdout, for `docker logs`
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    print(f"numbers-api listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
