"""End-to-end test: fetches each page from the running site and checks what a visitor sees."""

import os
import sys
import urllib.request

SITE_URL = os.environ.get("SITE_URL", "http://site:8000")
EXPECTED = {"/": "It works", "/about.html": "About", "/style.css": "font-family"}


def main() -> int:
    for path, text in EXPECTED.items():
        try:
            with urllib.request.urlopen(SITE_URL + path, timeout=10) as response:
                body = response.read().decode()
        except OSError as error:
            print(f"FAIL GET {path}: {error}", flush=True)
            return 1
        if text not in body:
            print(f"FAIL GET {path}: {text!r} not in the page", flush=True)
            return 1
        print(f"ok   GET {path}", flush=True)
    print("e2e passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
