"""Unit tests, run by the image build's test stage: a failing test fails the build."""

import json
import threading
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import app


class FakeApi(BaseHTTPRequestHandler):
    def do_GET(self):
        if "min=9" in self.path:
            status, body = 400, {"error": "min (9) is greater than max (1)"}
        else:
            status, body = 200, {"number": 7, "min": 1, "max": 10}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class RenderPageTest(unittest.TestCase):
    def test_shows_number_and_range(self):
        page = app.render_page({"number": 42, "min": 1, "max": 100})
        self.assertIn('<strong id="number">42</strong>', page)
        self.assertIn("Between 1 and 100", page)
        self.assertIn('href="/?min=1&amp;max=100"', page)


class FetchNumberTest(unittest.TestCase):
    def setUp(self):
        self.api, self.api_url = serve(FakeApi)

    def tearDown(self):
        self.api.shutdown()
        self.api.server_close()

    def test_returns_api_answer(self):
        self.assertEqual(app.fetch_number("min=1&max=10", self.api_url)["number"], 7)

    def test_api_error_message_is_kept(self):
        with self.assertRaisesRegex(app.ApiError, "greater than max"):
            app.fetch_number("min=9&max=1", self.api_url)

    def test_unreachable_api(self):
        with self.assertRaisesRegex(app.ApiError, "unreachable"):
            app.fetch_number("", "http://127.0.0.1:9")


class HandlerTest(unittest.TestCase):
    def test_page_and_health(self):
        app.Handler.fetch = staticmethod(lambda query: {"number": 5, "min": 5, "max": 5})
        server, base = serve(app.Handler)
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as response:
                self.assertIn('<strong id="number">5</strong>', response.read().decode())
            with urllib.request.urlopen(base + "/health", timeout=5) as response:
                self.assertEqual(response.read(), b"ok")
        finally:
            server.shutdown()
            server.server_close()
            app.Handler.fetch = staticmethod(app.fetch_number)


if __name__ == "__main__":
    unittest.main()
