#!/usr/bin/env python3
"""Checks the documentation's relative links: every [text](path) and [text](path#anchor) in
README.md and docs/*.md (images included, and <img src="..."> tags) must name a file or folder
that exists, and an #anchor into a Markdown file must name one of its headings, slugged as
GitHub does (lowercase; punctuation other than '-' and '_' dropped; spaces to '-'; a repeated
heading gets -1, -2, ...). Links inside code blocks and code spans are not links. Also checks
that README.md stays at most 380 lines.

Usage: check_links.py SOURCE_DIR. Prints one line per broken link and exits 1 if there is any."""
import pathlib
import re
import sys
from urllib.parse import unquote

README_MAX_LINES = 380
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) or [text](target "title"); text may hold one level of brackets ([`x`], ![img]).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
IMG_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text):
    """(line number, line) for lines outside fenced code blocks, with code spans blanked."""
    in_fence = None
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if fence:
            if in_fence is None:
                in_fence = fence.group(1)
            elif fence.group(1) == in_fence:
                in_fence = None
            continue
        if in_fence is None:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"<[^>]+>", "", heading)                   # inline HTML tags
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)    # links and images: their text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)                      # drop punctuation but - and _
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        seen = {}
        found = set()
        for _, line in prose_lines(path.read_text(encoding="utf-8")):
            match = HEADING.match(line)
            if not match:
                continue
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        cache[path] = found
    return cache[path]


def targets(line):
    line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
    for match in LINK.finditer(line):
        yield match.group(1)
    for match in IMG_SRC.finditer(line):
        yield match.group(1)


def broken_links(root, path):
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in targets(line):
            if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
                continue  # external (http:, mailto:, ...) or empty
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / unquote(file_part)).resolve() if file_part else path
            where = f"{path.relative_to(root)}:{number}"
            if not linked.exists():
                yield f"{where}: {target}: no such file"
            elif anchor and linked.suffix == ".md" and linked.is_file() and unquote(anchor) not in anchors(linked):
                yield f"{where}: {target}: no heading #{anchor} in {linked.relative_to(root)}"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    files = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    problems = []
    for path in files:
        if path.is_file():
            problems.extend(broken_links(root, path))
        else:
            problems.append(f"{path.relative_to(root)}: missing")
    readme = root / "README.md"
    if readme.is_file():
        lines = len(readme.read_text(encoding="utf-8").splitlines())
        if lines > README_MAX_LINES:
            problems.append(f"README.md: {lines} lines, more than {README_MAX_LINES}: move the details to docs/")
    for problem in problems:
        print(problem)
    print(f"docs: {len(files)} files checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
