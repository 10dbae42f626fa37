"""The site's unit test, run in the image build: every page has a title and every local link and
stylesheet points at a file that exists. Standard library only."""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.title, self.in_title, self.targets = "", False, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title":
            self.in_title = True
        target = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag in ("img", "script") else None
        if target:
            self.targets.append(target)

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.title += data


def problems(root: Path) -> list[str]:
    found = []
    pages = sorted(root.rglob("*.html"))
    if not (root / "index.html").is_file():
        found.append("index.html is missing")
    for page in pages:
        parser = PageParser()
        parser.feed(page.read_text())
        name = page.relative_to(root)
        if not parser.title.strip():
            found.append(f"{name}: no <title>")
        for target in parser.targets:
            url = urlparse(target)
            if url.scheme or url.netloc or target.startswith("#"):
                continue
            if not (page.parent / url.path).resolve().is_file():
                found.append(f"{name}: broken link {target}")
    return found


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "site")
    found = problems(root)
    for problem in found:
        print(f"FAIL {problem}")
    print(f"checked {len(list(root.rglob('*.html')))} pages: {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
