#!/usr/bin/python3
"""Checks the structure of deepl's HTML pages with a real HTML parser (lxml, Debian's python3-lxml).

  check_html.py report PAGE [--epochs N] [--classes K] [--eval]
      a run's report.html: title, sections, the per-epoch and per-class tables' row counts,
      the learning curves' SVG charts, the figures (--eval: a `deepl eval --out` folder's page,
      which has no epochs or manifest)
  check_html.py runs PAGE --runs N [--differing KEY ...]
      a `deepl runs --html` page: the runs table's rows, the overlaid curves, the config diff

Every page: self-contained (no script, no external stylesheet, no http(s) src/href), viewport
meta, images are PNG data: URIs with alt text. Prints PASS or the first failure, exits 0 or 1.
"""
import argparse
import base64
import sys

import lxml.html

RUN_SECTIONS = ["summary", "metrics", "per-class", "curves", "epochs", "confusion", "misclassified", "manifest", "config"]
EVAL_SECTIONS = ["summary", "metrics", "per-class", "confusion", "misclassified"]
RUNS_SECTIONS = ["runs", "curves", "config-diff"]


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def section(doc, section_id):
    found = doc.xpath(f'//section[@id="{section_id}"]')
    check(len(found) == 1, f'expected one <section id="{section_id}">, found {len(found)}')
    check(found[0].xpath("./h2"), f'section "{section_id}" has no <h2> heading')
    return found[0]


def body_rows(element, what):
    tables = element.xpath(".//table")
    check(tables, f"{what}: no table")
    return tables[-1].xpath("./tbody/tr")


def check_self_contained(doc):
    title = doc.findtext(".//title") or ""
    check(title.startswith("deepl"), f'title "{title}" does not start with "deepl"')
    check(doc.xpath('//meta[@name="viewport"]'), "no <meta name=viewport>")
    check(doc.xpath("//h1"), "no <h1>")
    check(not doc.xpath("//script"), "has a <script>")
    check(not doc.xpath('//link[@rel="stylesheet"]'), "links an external stylesheet")
    for element in doc.xpath("//*[@src or @href]"):
        for attribute in ("src", "href"):
            value = (element.get(attribute) or "").strip().lower()
            check(not value.startswith(("http:", "https:", "//")), f"<{element.tag} {attribute}={value[:60]}> is external")
    for img in doc.xpath("//img"):
        src = img.get("src") or ""
        check(src.startswith("data:image/png;base64,"), f"<img> src is not a PNG data: URI: {src[:60]}")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        check(png.startswith(b"\x89PNG\r\n\x1a\n"), "an embedded image is not a PNG")
        check((img.get("alt") or "").strip(), "an <img> has no alt text")


def check_report(doc, args):
    sections = {name: section(doc, name) for name in (EVAL_SECTIONS if args.eval else RUN_SECTIONS)}
    per_class = body_rows(sections["per-class"], "per-class")
    check(len(per_class) == args.classes, f"per-class table: {len(per_class)} rows, expected {args.classes}")
    for name in ("confusion", "misclassified"):
        check(sections[name].xpath(".//img"), f'section "{name}" has no image')
    if args.eval:
        return
    epochs = body_rows(sections["epochs"], "epochs")
    check(len(epochs) == args.epochs, f"per-epoch table: {len(epochs)} rows, expected {args.epochs}")
    svgs = sections["curves"].xpath(".//svg")
    check(len(svgs) == 2, f"learning curves: {len(svgs)} SVG charts, expected 2 (loss, accuracy)")
    check(all(svg.xpath(".//polyline") for svg in svgs), "a learning-curve chart has no line")
    check(sections["config"].xpath(".//details/pre"), "config is not in a <details><pre>")
    check(body_rows(sections["manifest"], "manifest"), "manifest table is empty")


def check_runs(doc, args):
    sections = {name: section(doc, name) for name in RUNS_SECTIONS}
    rows = body_rows(sections["runs"], "runs")
    check(len(rows) == args.runs, f"runs table: {len(rows)} rows, expected {args.runs}")
    svgs = sections["curves"].xpath(".//svg")
    check(len(svgs) == 2, f"curves: {len(svgs)} SVG charts, expected 2 (accuracy, loss)")
    for svg in svgs:
        lines = svg.xpath(".//polyline")
        check(len(lines) == args.runs, f"a curves chart has {len(lines)} lines, expected one per run ({args.runs})")
    if args.differing:
        keys = [row.xpath("./td")[0].text_content() for row in body_rows(sections["config-diff"], "config diff")]
        for key in args.differing:
            check(key in keys, f'config diff lacks "{key}" (has {keys})')
        header = sections["config-diff"].xpath(".//thead/tr/th")
        check(len(header) == args.runs + 1, f"config diff: {len(header)} columns, expected key + one per run")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["report", "runs"])
    parser.add_argument("page")
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--eval", action="store_true")
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--differing", nargs="*", default=[])
    args = parser.parse_args()
    try:
        doc = lxml.html.parse(args.page).getroot()
        check(doc is not None, "empty document")
        check_self_contained(doc)
        (check_report if args.kind == "report" else check_runs)(doc, args)
    except Failure as e:
        print(f"FAIL: {args.page}: {e}")
        return 1
    print(f"PASS: {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
