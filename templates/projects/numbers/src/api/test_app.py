"""Unit tests, run by the image build's test stage: a failing test fails the build."""

import json
import random
import threading
import unittest
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import app


class ParseRangeTest(unittest.TestCase):
    def test_defaults(self):
        self.assertEqual(app.parse_range(""), (1, 100))

    def test_explicit_range(self):
        self.assertEqual(app.parse_range("min=-5&max=5"), (-5, 5))

    def test_rejects_text(self):
        with self.assertRaisesRegex(ValueError, "min must be an integer"):
            app.parse_range("min=abc")

    def test_rejects_inverted_range(self):
        with self.assertRaisesRegex(ValueError, "greater than max"):
            app.parse_range("min=10&max=1")

    def test_rejects_huge_numbers(self):
        with self.assertRaisesRegex(ValueError, "max must be between"):
            app.parse_range("max=10000000000")


class RandomNumberTest(unittest.TestCase):
    def test_stays_in_range(self):
        rng = random.Random(42)
        numbers = {app.random_number(3, 7, rng) for _ in range(500)}
        self.assertEqual(numbers, {3, 4, 5, 6, 7})

    def test_single_value_range(self):
        self.assertEqual(app.random_number(9, 9, random.Random()), 9)


class HandlerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), app.Handler)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def test_health(self):
        self.assertEqual(self.get("/health"), (200, {"status": "ok"}))

    def test_number_in_range(self):
        status, body = self.get("/rng?min=10&max=12")
        self.assertEqual(status, 200)
        self.assertIn(body["number"], (10, 11, 12))
        self.assertEqual((body["min"], body["max"]), (10, 12))

    def test_bad_range_is_400(self):
        status, body = self.get("/rng?min=5&max=1")
        self.assertEqual(status, 400)
        self.assertIn("greater than max", body["error"])

    def test_unknown_path_is_404(self):
        self.assertEqual(self.get("/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()
