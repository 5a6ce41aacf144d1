#!/usr/bin/env python3
"""Accuracy of a trained checkpoint on test-set images made to look like a person's photos.

Each test image is upscaled to 280x280, inverted to dark ink on light paper (paper and ink tones
vary), blurred, placed off-centre on a larger sheet with uneven lighting and sensor noise, and
saved as PNG or JPEG with Pillow (an encoder independent of deepl's libpng/libjpeg decoders). Then
`deepl predict --recursive` reads the folder (class folders name the truth) and the accuracy is
compared with the checkpoint's accuracy on the IDX test set (metrics.json of its run).

Usage: photo_accuracy.py DEEPL RUN_DIR IDX_IMAGES IDX_LABELS OUT_DIR [--count N] [--tolerance T]
Exit 0 when the photo accuracy is within T (default 0.03) of the IDX accuracy; writes
OUT_DIR/photo_accuracy.json. Exit 77 (skipped) when the reproduction that RUN_DIR belongs to
skipped that run (its summary.json says so), e.g. because its time budget did not fit.
"""
import argparse
import gzip
import json
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image, ImageFilter


def read_idx(path):
    path = pathlib.Path(path)
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def as_photo(image, rng):
    """A 28x28 light-on-dark test image as a phone photo of it: dark on light, big, blurred, off-centre."""
    big = Image.fromarray(image).resize((280, 280), Image.BICUBIC)
    scale = rng.uniform(0.7, 1.0)
    side = int(280 * scale)
    big = big.resize((side, side), Image.BICUBIC).filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 3.0)))
    paper, ink = rng.uniform(200, 245), rng.uniform(10, 70)
    strokes = np.asarray(big, np.float32) / 255.0
    width, height = int(rng.integers(340, 420)), int(rng.integers(340, 420))
    sheet = np.zeros((height, width), np.float32)
    top, left = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
    sheet[top:top + side, left:left + side] = strokes
    ys, xs = np.mgrid[0:height, 0:width]
    lighting = rng.uniform(-20, 20) * (xs / width - 0.5) + rng.uniform(-20, 20) * (ys / height - 0.5)
    photo = paper + lighting - (paper - ink) * sheet + rng.normal(0, 4, sheet.shape)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))


def write_photos(images, labels, out, count, seed):
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(images), size=min(count, len(images)), replace=False)
    for n, i in enumerate(sorted(picked)):
        folder = out / str(int(labels[i]))
        folder.mkdir(parents=True, exist_ok=True)
        photo = as_photo(images[i], rng)
        if n % 2:
            photo.save(folder / f"{i:05d}.jpg", quality=int(rng.integers(70, 92)))
        else:
            photo.save(folder / f"{i:05d}.png")
    return len(picked)


def predicted_accuracy(deepl, checkpoint, folder):
    run = subprocess.run([deepl, "predict", "--checkpoint", str(checkpoint), "--input", str(folder), "--recursive",
                          "--top-k", "1", "--quiet"], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"deepl predict failed ({run.returncode}): {run.stderr.strip()}")
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    right = sum(int(pathlib.Path(l["file"]).parent.name) == l["top"][0]["class"] for l in lines)
    return right / len(lines), len(lines)


SKIPPED = 77


def skipped_by_reproduction(run_dir):
    """The reproduction's reason for not running RUN_DIR's experiment, or None when it ran."""
    summary = run_dir.parent / "summary.json"
    if not summary.exists():
        return None
    for row in json.loads(summary.read_text())["results"]:
        if row["experiment"] == run_dir.name and row["status"].startswith("skipped"):
            return row["status"]
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("deepl", "run_dir", "idx_images", "idx_labels", "out_dir"):
        parser.add_argument(name)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--tolerance", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run_dir, out = pathlib.Path(args.run_dir), pathlib.Path(args.out_dir)
    reason = skipped_by_reproduction(run_dir)
    if reason:
        print(f"{run_dir.name}: no photo check, the reproduction did not train it ({reason})")
        return SKIPPED
    idx_accuracy = json.loads((run_dir / "metrics.json").read_text())["accuracy"]
    written = write_photos(read_idx(args.idx_images), read_idx(args.idx_labels), out / "photos", args.count, args.seed)
    accuracy, predicted = predicted_accuracy(args.deepl, run_dir / "checkpoints" / "best.pt", out / "photos")
    result = {"run": str(run_dir), "photos": written, "predicted": predicted, "photo_accuracy": accuracy,
              "idx_accuracy": idx_accuracy, "tolerance": args.tolerance,
              "passed": predicted == written and idx_accuracy - accuracy <= args.tolerance}
    (out / "photo_accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{run_dir.name}: {predicted} photo-like test images (PNG and JPEG) accuracy {accuracy:.4f}, "
          f"IDX test accuracy {idx_accuracy:.4f} (allowed gap {args.tolerance})")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
