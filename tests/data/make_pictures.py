#!/usr/bin/env python3
"""Writes test pictures with Pillow, so the decoders are tested on files deepl did not write.

Usage: make_pictures.py ROOT SPEC.json, where SPEC is a list of
  {"path": "cats/a.png", "size": [width, height], "mode": "RGB" | "L" | "RGBA", "label": k, "seed": s}
Each picture is noise with a bright block whose place and colour depend on its label, so a
small model can learn the classes. The format follows the extension (.png, .jpg, .bmp, .ppm, .pgm).
"""
import json
import os
import random
import sys

from PIL import Image, ImageDraw

COLOURS = [(230, 40, 40), (40, 200, 60), (50, 80, 230), (220, 200, 40), (200, 60, 200), (40, 200, 200)]


def picture(width, height, mode, label, seed):
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    image.putdata([tuple(rng.randrange(0, 60) for _ in range(3)) for _ in range(width * height)])
    draw = ImageDraw.Draw(image)
    cols = 3
    cell_w, cell_h = width // cols, height // 2
    x, y = (label % cols) * cell_w, (label // cols % 2) * cell_h
    draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], fill=COLOURS[label % len(COLOURS)])
    return image.convert(mode)


def main():
    root, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    for item in spec:
        path = os.path.join(root, item["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        width, height = item["size"]
        image = picture(width, height, item.get("mode", "RGB"), item.get("label", 0), item.get("seed", 0))
        ext = os.path.splitext(path)[1].lower()
        if ext in (".jpg", ".jpeg"):
            image.convert("L" if image.mode == "L" else "RGB").save(path, quality=95)
        elif ext == ".pgm":
            image.convert("L").save(path)
        elif ext == ".ppm":
            image.convert("RGB").save(path)
        else:
            image.save(path)


if __name__ == "__main__":
    main()
