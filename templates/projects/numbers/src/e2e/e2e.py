"""End-to-end test: plays the user against the running web app and fails on a wrong answer."""

import os
import re
import sys
import time
import urllib.request

WEB_URL = os.environ.get("WEB_URL", "http://web:8000")
NUMBER = re.compile(r'<strong id="number">(-?\d+)</strong>')


def page_number(query: str) -> int:
    with urllib.request.urlopen(f"{WEB_URL}/?{query}", timeout=10) as response:
        if response.status != 200:
            raise AssertionError(f"GET /?{query}: HTTP {response.status}")
        found = NUMBER.search(response.read().decode())
    if not found:
        raise AssertionError(f"GET /?{query}: the page shows no number")
    return int(found.group(1))


def check(description: str, query: str, low: int, high: int) -> None:
    number = page_number(query)
    if not low <= number <= high:
        raise AssertionError(f"{description}: got {number}, expected {low}..{high}")
    print(f"ok   {description}: {number}", flush=True)


def main() -> int:
    started = time.monotonic()
    try:
        check("default range", "", 1, 100)
        check("fixed number", "min=7&max=7", 7, 7)
        for attempt in range(20):
            check(f"range 10..20, try {attempt + 1}", "min=10&max=20", 10, 20)
    except (AssertionError, OSError) as failure:
        print(f"FAIL {failure}", flush=True)
        return 1
    print(f"e2e passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
