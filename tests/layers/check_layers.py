#!/usr/bin/env python3
"""Fails when a file of the library includes a header of a higher layer (or of another room on its own
layer). The layers, lowest first; docs/architecture.md says why they are in this order:

  core < io < data, report < models < eval < train < dist < config < run < basics < apps

Also fails when a public header of train/, eval/, models/ or data/ includes nlohmann/json.hpp: those
layers take typed options, and config::plan_experiment alone reads the config's JSON. The model
registry's plug-in interface and the checkpoint keep JSON (the stored config); the trainer and its
callbacks declare their checkpoint state with json_fwd.hpp.

Usage: check_layers.py SOURCE_DIR. Prints one line per upward include and exits 1 if there is any."""
import pathlib
import re
import sys

LAYERS = [["core"], ["io"], ["data", "report"], ["models"], ["eval"], ["train"], ["dist"], ["config"], ["run"],
          ["basics"], ["apps"]]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}
TYPED_ROOMS = ("train", "eval", "models", "data")
JSON_ALLOWED = {"include/deepl/models/registry.h", "include/deepl/train/checkpoint.h"}
JSON_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]nlohmann/json\.hpp[>"]')
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]deepl/([a-z_0-9]+)/')


def room_of(path: pathlib.Path, root: pathlib.Path) -> str:
    parts = path.relative_to(root).parts
    if parts[0] == "apps":
        return "apps"
    return parts[2] if parts[0] == "include" else parts[1]


def violations(root: pathlib.Path):
    files = [p for top in ("include/deepl", "src", "apps") for p in (root / top).rglob("*") if p.suffix in (".h", ".cpp")]
    for path in sorted(files):
        room = room_of(path, root)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match or match.group(1) == room or match.group(1) not in RANK:
                continue
            target = match.group(1)
            if RANK[target] >= RANK[room]:
                where = "up" if RANK[target] > RANK[room] else "sideways"
                yield f"{path.relative_to(root)}:{number}: {room} includes {target} ({where} the layers)"


def json_in_typed_headers(root: pathlib.Path):
    for room in TYPED_ROOMS:
        for path in sorted((root / "include" / "deepl" / room).glob("*.h")):
            relative = str(path.relative_to(root))
            if relative in JSON_ALLOWED:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if JSON_INCLUDE.match(line):
                    yield f"{relative}:{number}: includes nlohmann/json.hpp; {room}/ takes typed options"


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    found = list(violations(root)) + list(json_in_typed_headers(root))
    for line in found:
        print(line)
    unknown = sorted({room_of(p, root) for p in (root / "src").rglob("*.cpp")} - set(RANK))
    for room in unknown:
        print(f"src/{room}: a folder the layer check does not know; add it to LAYERS in {pathlib.Path(__file__).name}")
    print(f"layers: {len(found)} include(s) against the layers, {len(unknown)} unknown folder(s)")
    return 1 if found or unknown else 0


if __name__ == "__main__":
    sys.exit(main())
