#!/usr/bin/python3
"""Accuracy baselines for "your own data": deepl against scikit-learn on the same data and split.

    /usr/bin/python3 bench/sklearn_tables.py [--work /tmp/deepl-sklearn-bench] [--sets digits,wine,breast_cancer]
                                             [--out DIR] [--build build]

Three data sets shipped with python3-sklearn, exported under --work as a user would have them:
- digits: UCI digits (load_digits: 1,797 8x8 grayscale pictures, values 0..16 scaled to 0..255) as a
  folder of PNGs, one sub-folder per digit "0".."9"; `deepl train --data DIR`.
- wine (load_wine: 178 rows, 13 measurements, 3 cultivars) and breast_cancer (load_breast_cancer:
  569 rows, 30 measurements, malignant/benign) as CSV files with a header line and the class name
  in a text column "class"; `deepl train --data FILE.csv --target class`.
deepl trains each twice, `--model linear` (multinomial logistic regression) and `--model mlp` (one
hidden layer of 128), with 2 threads, its default test split (test_fraction 0.2 by file name or line number) and one
recipe for all three sets (RECIPES), fitted as scikit-learn fits: on every non-test example, with an
L2 penalty, the last epoch tested. Then the run's data_files.json
gives the exact split, and scikit-learn's LogisticRegression(max_iter=5000) and
MLPClassifier(hidden_layer_sizes=(128,), max_iter=2000, random_state=0) are fitted on the same
examples and scored on deepl's test examples (pictures: pixels / 255; tables:
StandardScaler fitted on the same rows, as deepl standardises). Reports the test accuracies and the
wall seconds of each.

Writes results.md and results.json to --out (default bench/results/sklearn-baselines). Needs
python3-sklearn, python3-pil and python3-numpy (Debian).
"""
import argparse
import csv
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
# One recipe for every set, fitted like scikit-learn: every non-test example (no validation split, the
# last epoch is tested), Adam with an L2 penalty (sklearn: C=1 for LogisticRegression, alpha=1e-4 and
# Adam lr 1e-3 for MLPClassifier); config overrides besides threads.
_WHOLE_TRAINING_SPLIT = ["data.val_fraction=0", "train.checkpoint.monitor=train_loss", "optimizer.type=adam",
                         "data.batch_size=32"]
RECIPES = {
    "linear": _WHOLE_TRAINING_SPLIT + ["optimizer.lr=0.01", "optimizer.weight_decay=0.01", "train.epochs=100"],
    "mlp": _WHOLE_TRAINING_SPLIT + ["optimizer.lr=0.001", "optimizer.weight_decay=0.0001", "train.epochs=200"],
}


# ---------------------------------------------------------------- the data, as a user has it
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


def export_table(work, name):
    """An sklearn table as NAME.csv: its feature names, then "class" holding the class's name."""
    from sklearn import datasets
    bunch = getattr(datasets, f"load_{name}")()
    path = os.path.join(work, f"{name}.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(bunch.feature_names) + ["class"])
        for x, y in zip(bunch.data, bunch.target):
            writer.writerow([repr(float(v)) for v in x] + [str(bunch.target_names[y])])
    return path


def picture_features(folder, files):
    """The listed PNGs (paths relative to the folder) as rows of pixels / 255, and their labels."""
    x = np.stack([np.asarray(Image.open(os.path.join(folder, f)), dtype=np.float64).ravel() / 255.0 for f in files])
    y = np.array([f.split("/")[0] for f in files])
    return x, y


def table_features(path, rows):
    """The listed rows ("NAME.csv:LINE", one record per line) as features and class names."""
    with open(path, newline="") as f:
        records = list(csv.reader(f))
    picked = [records[int(r.rsplit(":", 1)[1]) - 1] for r in rows]
    return np.array([[float(v) for v in p[:-1]] for p in picked]), np.array([p[-1] for p in picked])


DATA_SETS = {
    "digits": {"make": export_digits, "features": picture_features, "args": [],
               "what": "UCI digits (load_digits) as 8x8 grayscale PNGs in one folder per digit"},
    "wine": {"make": lambda work: export_table(work, "wine"), "features": table_features,
             "args": ["--target", "class"], "what": "wine (load_wine) as a CSV table, 13 columns"},
    "breast_cancer": {"make": lambda work: export_table(work, "breast_cancer"), "features": table_features,
                      "args": ["--target", "class"], "what": "breast cancer (load_breast_cancer) as a CSV table, 30 columns"},
}


# ---------------------------------------------------------------- deepl
def deepl(build, *args):
    return subprocess.run([os.path.join(ROOT, build, "apps", "deepl"), *args], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def machine(build):
    info = json.loads(deepl(build, "info", "--json"))
    return {"cpu": info["cpu"], "os": info["os"], "libtorch_version": info["libtorch_version"],
            "deepl_version": deepl(build, "--version").strip()}


def train_deepl(build, data, extra_args, recipe, model, run_dir):
    """`deepl train --data` with the recipe; returns test accuracy, seconds and the split's examples."""
    shutil.rmtree(run_dir, ignore_errors=True)
    sets = [f"threads={THREADS}"] + recipe
    start = time.perf_counter()
    deepl(build, "train", "--data", data, *extra_args, "--model", model, *[a for s in sets for a in ("--set", s)],
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


def sklearn_rows(features, data, files, standardise):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    train = features(data, files["train"] + files["validation"])
    test = features(data, files["test"])

    def model(estimator):
        return make_pipeline(StandardScaler(), estimator) if standardise else estimator
    return {
        "sklearn LogisticRegression(max_iter=5000)": fit_sklearn(model(LogisticRegression(max_iter=5000)), train, test),
        "sklearn MLPClassifier((128,), max_iter=2000)":
            fit_sklearn(model(MLPClassifier(hidden_layer_sizes=(128,), max_iter=2000, random_state=0)), train, test),
    }


# ---------------------------------------------------------------- report
def same_split(a, b):
    return all(sorted(a[k]) == sorted(b[k]) for k in ("train", "validation", "test"))


def report(here, results):
    cpu = here["cpu"]
    lines = ["# Your own data: deepl vs scikit-learn (same data, same split)", "",
             f"Machine: {cpu['model']}, {cpu['logical_cores']} cores, ISA level {cpu['isa_level']}; {here['os']}; "
             f"deepl {here['deepl_version']}.", "",
             "deepl trains on every non-test example with the recipe column's settings (no validation split; the last "
             "epoch is tested); scikit-learn fits on the same examples (pictures: pixels / 255; tables: "
             "standardised). All are scored on the same test examples.", ""]
    for name, r in results.items():
        files = r["split"]
        lines += [f"## {name}", "",
                  f"{DATA_SETS[name]['what']}. deepl's split (data_files.json): {len(files['train'])} train, "
                  f"{len(files['validation'])} validation, {len(files['test'])} test.", "",
                  "| model | test accuracy | seconds | recipe |", "|---|---|---|---|"]
        for label, row in r["rows"].items():
            recipe = ", ".join(row.get("recipe", [])) or "fit on the same examples"
            lines.append(f"| {label} | {row['accuracy']:.4f} | {row['seconds']:.1f} | {recipe} |")
        lines.append("")
    return "\n".join(lines)


def compare(build, work, name):
    spec = DATA_SETS[name]
    data = spec["make"](work)
    rows, split = {}, None
    for model, label in (("linear", "deepl linear (logistic regression)"), ("mlp", "deepl mlp [128]")):
        run_dir = os.path.join(work, f"run-{name}-{model}")
        rows[label], files = train_deepl(build, data, spec["args"], RECIPES[model], model, run_dir)
        if split is not None and not same_split(split, files):
            raise SystemExit(f"{name}: deepl's two runs split the data differently")
        split = files
        print(f"{name} {label}: {rows[label]['accuracy']:.4f}", flush=True)
    rows.update(sklearn_rows(spec["features"], data, split, standardise=spec["features"] is table_features))
    return {"rows": rows, "split": split}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/deepl-sklearn-bench", help="where the data and runs go")
    ap.add_argument("--sets", default=",".join(DATA_SETS), help="comma-separated: " + ", ".join(DATA_SETS))
    ap.add_argument("--out", help="results folder (default: bench/results/sklearn-baselines)")
    ap.add_argument("--build", default="build", help="build folder holding apps/deepl")
    args = ap.parse_args()
    here = machine(args.build)
    out = os.path.join(ROOT, args.out or os.path.join("bench", "results", "sklearn-baselines"))
    os.makedirs(args.work, exist_ok=True)
    results = {name: compare(args.build, args.work, name) for name in args.sets.split(",")}

    text = report(here, results)
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": here, "threads": THREADS, "recipes": RECIPES, "results": results}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
