#!/usr/bin/python3
"""Accuracy baselines for "your own data": deepl against scikit-learn on the same pictures and split.

    /usr/bin/python3 bench/sklearn_tables.py [--work /tmp/deepl-sklearn-bench] [--epochs 60]
                                             [--out DIR] [--build build]

Exports UCI digits (sklearn.datasets.load_digits, shipped with python3-sklearn: 1,797 8x8 grayscale
pictures, values 0..16 scaled to 0..255) as a folder of PNGs, one sub-folder per digit "0".."9",
under --work. Trains deepl on it with `deepl train --data DIR` twice: `--model linear` (multinomial
logistic regression) and `--model mlp` (one hidden layer of 128), each with Adam, batch 32, 2
threads and deepl's default split (test_fraction 0.2 by file-name hash, val_fraction 0.1 of the rest
picks the best epoch). Then reads the run's data_files.json and fits scikit-learn's
LogisticRegression(max_iter=5000) and MLPClassifier(hidden_layer_sizes=(128,), max_iter=2000,
random_state=0) on exactly deepl's training + validation files, scored on exactly its test files
(features: pixels / 255, as read back from the PNGs). Reports the four test accuracies, the
test-set size and the wall seconds of each.

Writes results.md and results.json to --out (default bench/results/sklearn-digits). Needs
python3-sklearn, python3-pil and python3-numpy (Debian). CSV tables (breast cancer, wine) are not
here: deepl does not read CSV yet.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS = 2
# deepl recipes: model type -> config overrides (besides epochs and threads)
RECIPES = {
    "linear": ["optimizer.type=adam", "optimizer.lr=0.001", "data.batch_size=32", "train.epochs=200"],
    "mlp": ["optimizer.type=adam", "optimizer.lr=0.003", "data.batch_size=32", "model.hidden=[128]"],
}


# ---------------------------------------------------------------- the folder of pictures
def export_digits(work):
    """UCI digits as DIR/<digit>/<index>.png (8x8 grayscale, 0..16 -> 0..255), made once."""
    from sklearn.datasets import load_digits
    folder = os.path.join(work, "digits")
    if os.path.exists(os.path.join(folder, ".complete")):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    digits = load_digits()
    for d in range(10):
        os.makedirs(os.path.join(folder, str(d)))
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        pixels = np.round(image * 255.0 / 16.0).astype(np.uint8)
        Image.fromarray(pixels, "L").save(os.path.join(folder, str(label), f"{i:04d}.png"))
    open(os.path.join(folder, ".complete"), "w").close()
    return folder


def features(folder, files):
    """The listed PNGs (paths relative to the folder) as rows of pixels / 255, and their labels."""
    x = np.stack([np.asarray(Image.open(os.path.join(folder, f)), dtype=np.float64).ravel() / 255.0 for f in files])
    y = np.array([int(f.split("/")[0]) for f in files])
    return x, y


# ---------------------------------------------------------------- deepl
def deepl(build, *args):
    return subprocess.run([os.path.join(ROOT, build, "apps", "deepl"), *args], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def machine(build):
    info = json.loads(deepl(build, "info", "--json"))
    return {"cpu": info["cpu"], "os": info["os"], "libtorch_version": info["libtorch_version"],
            "deepl_version": deepl(build, "--version").strip()}


def train_deepl(build, folder, model, epochs, run_dir):
    """`deepl train --data` with the model's recipe; returns test accuracy, seconds and the split's files."""
    shutil.rmtree(run_dir, ignore_errors=True)
    recipe = RECIPES[model]
    default_epochs = [] if any(s.startswith("train.epochs=") for s in recipe) else [f"train.epochs={epochs}"]
    sets = default_epochs + [f"threads={THREADS}"] + recipe
    start = time.perf_counter()
    deepl(build, "train", "--data", folder, "--model", model, *[a for s in sets for a in ("--set", s)],
          "--out", run_dir, "-q")
    seconds = time.perf_counter() - start
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(run_dir, "data_files.json")) as f:
        files = json.load(f)
    return {"accuracy": metrics["accuracy"], "seconds": seconds, "recipe": sets}, files


# ---------------------------------------------------------------- scikit-learn
def fit_sklearn(estimator, train, test):
    start = time.perf_counter()
    estimator.fit(*train)
    accuracy = float(estimator.score(*test))
    return {"accuracy": accuracy, "seconds": time.perf_counter() - start}


def sklearn_rows(folder, files):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    train = features(folder, files["train"] + files["validation"])
    test = features(folder, files["test"])
    return {
        "sklearn LogisticRegression(max_iter=5000)": fit_sklearn(LogisticRegression(max_iter=5000), train, test),
        "sklearn MLPClassifier((128,), max_iter=2000)":
            fit_sklearn(MLPClassifier(hidden_layer_sizes=(128,), max_iter=2000, random_state=0), train, test),
    }


# ---------------------------------------------------------------- report
def same_split(a, b):
    return all(sorted(a[k]) == sorted(b[k]) for k in ("train", "validation", "test"))


def report(here, rows, files):
    cpu = here["cpu"]
    lines = ["# Your own data: deepl vs scikit-learn on UCI digits (same pictures, same split)", "",
             f"Machine: {cpu['model']}, {cpu['logical_cores']} cores, ISA level {cpu['isa_level']}; {here['os']}; "
             f"deepl {here['deepl_version']}.", "",
             f"UCI digits (sklearn.datasets.load_digits) exported as 8x8 grayscale PNGs in one folder per digit. "
             f"deepl's split (data_files.json): {len(files['train'])} train, {len(files['validation'])} validation, "
             f"{len(files['test'])} test. deepl trains on train (epochs and optimizer as in the recipe column; the best epoch on "
             "validation is tested); scikit-learn fits on train + validation (pixels / 255). All are scored on the "
             "same test files.", "",
             "| model | test accuracy | test pictures | seconds | recipe |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        recipe = ", ".join(r.get("recipe", [])) or "fit on train + validation, pixels / 255"
        lines.append(f"| {name} | {r['accuracy']:.4f} | {len(files['test'])} | {r['seconds']:.1f} | {recipe} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/deepl-sklearn-bench", help="where the pictures and runs go")
    ap.add_argument("--epochs", type=int, default=60, help="deepl training epochs")
    ap.add_argument("--out", help="results folder (default: bench/results/sklearn-digits)")
    ap.add_argument("--build", default="build", help="build folder holding apps/deepl")
    args = ap.parse_args()
    here = machine(args.build)
    out = os.path.join(ROOT, args.out or os.path.join("bench", "results", "sklearn-digits"))
    os.makedirs(args.work, exist_ok=True)
    folder = export_digits(args.work)

    rows, split = {}, None
    for model, label in (("linear", "deepl linear (logistic regression)"), ("mlp", "deepl mlp [128]")):
        run_dir = os.path.join(args.work, f"run-{model}")
        rows[label], files = train_deepl(args.build, folder, model, args.epochs, run_dir)
        if split is not None and not same_split(split, files):
            raise SystemExit("deepl's two runs split the folder differently")
        split = files
        print(f"{label}: {rows[label]['accuracy']:.4f}", flush=True)
    rows.update(sklearn_rows(folder, split))

    text = report(here, rows, split)
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": here, "epochs": args.epochs, "threads": THREADS, "rows": rows,
                   "split": {k: len(v) for k, v in split.items()}, "files": split}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
