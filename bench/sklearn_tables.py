#!/usr/bin/python3
"""Accuracy baselines for "your own data": deepl against scikit-learn on the same data and split.

    /usr/bin/python3 bench/sklearn_tables.py [--work /tmp/deepl-sklearn-bench]
                                             [--sets digits,wine,breast_cancer,diabetes] [--out DIR] [--build build]

Four data sets shipped with python3-sklearn, exported under --work as a user would have them:
- digits: UCI digits (load_digits: 1,797 8x8 grayscale pictures, values 0..16 scaled to 0..255) as a
  folder of PNGs, one sub-folder per digit "0".."9"; `deepl train --data DIR`.
- wine (load_wine: 178 rows, 13 measurements, 3 cultivars) and breast_cancer (load_breast_cancer:
  569 rows, 30 measurements, malignant/benign) as CSV files with a header line and the class name
  in a text column "class"; `deepl train --data FILE.csv --target class`.
- diabetes (load_diabetes: 442 rows, 10 measurements, a disease progression score 25..346) as a CSV
  with the score in a column "progression": a regression (data.task auto sees a quantity); scored by
  R2 against LinearRegression, Ridge and MLPRegressor.
deepl trains each twice, `--model linear` (multinomial logistic regression) and `--model mlp` (one
hidden layer of 128), with 2 threads, its default test split (test_fraction 0.2 by file name or line number) and one
recipe for all three sets (RECIPES), fitted as scikit-learn fits: on every non-test example, with an
L2 penalty, the last epoch tested. Then the run's data_files.json
gives the exact split, and scikit-learn's LogisticRegression(max_iter=5000) and
MLPClassifier(hidden_layer_sizes=(128,), max_iter=2000, random_state=0) are fitted on the same
examples and scored on deepl's test examples (pictures: pixels / 255; tables:
StandardScaler fitted on the same rows, as deepl standardises). Reports the test accuracies (R2 for
diabetes) and the wall seconds of each.

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


def export_table(work, name, target="class"):
    """An sklearn table as NAME.csv: its feature names, then the target column (a class's name, or
    the number of a regression)."""
    from sklearn import datasets
    bunch = getattr(datasets, f"load_{name}")()
    path = os.path.join(work, f"{name}.csv")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(bunch.feature_names) + [target])
        for x, y in zip(bunch.data, bunch.target):
            label = repr(float(y)) if target != "class" else str(bunch.target_names[y])
            writer.writerow([repr(float(v)) for v in x] + [label])
    return path


def picture_features(folder, files):
    """The listed PNGs (paths relative to the folder) as rows of pixels / 255, and their labels."""
    x = np.stack([np.asarray(Image.open(os.path.join(folder, f)), dtype=np.float64).ravel() / 255.0 for f in files])
    y = np.array([f.split("/")[0] for f in files])
    return x, y


def table_features(path, rows):
    """The listed rows ("NAME.csv:LINE", one record per line) as features and targets (class names,
    or numbers for a regression)."""
    with open(path, newline="") as f:
        records = list(csv.reader(f))
    picked = [records[int(r.rsplit(":", 1)[1]) - 1] for r in rows]
    targets = np.array([p[-1] for p in picked])
    if records[0][-1] != "class":
        targets = targets.astype(np.float64)
    return np.array([[float(v) for v in p[:-1]] for p in picked]), targets


DATA_SETS = {
    "digits": {"make": export_digits, "features": picture_features, "args": [],
               "what": "UCI digits (load_digits) as 8x8 grayscale PNGs in one folder per digit"},
    "wine": {"make": lambda work: export_table(work, "wine"), "features": table_features,
             "args": ["--target", "class"], "what": "wine (load_wine) as a CSV table, 13 columns"},
    "breast_cancer": {"make": lambda work: export_table(work, "breast_cancer"), "features": table_features,
                      "args": ["--target", "class"], "what": "breast cancer (load_breast_cancer) as a CSV table, 30 columns"},
    "diabetes": {"make": lambda work: export_table(work, "diabetes", "progression"), "features": table_features,
                 "args": ["--target", "progression"], "regression": True,
                 "what": "diabetes (load_diabetes) as a CSV table, 10 columns and the progression score: a regression"},
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
    """`deepl train --data` with the recipe; returns the test score (accuracy, or a regression's R2),
    seconds and the split's examples."""
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
    score = metrics["r2"] if "r2" in metrics else metrics["accuracy"]
    return {"score": score, "seconds": seconds, "recipe": sets}, files


# ---------------------------------------------------------------- scikit-learn
def fit_sklearn(estimator, train, test):
    """Fits on train, scores on test: accuracy for a classifier, R2 for a regressor."""
    start = time.perf_counter()
    estimator.fit(*train)
    score = float(estimator.score(*test))
    return {"score": score, "seconds": time.perf_counter() - start}


def sklearn_estimators(regression):
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    if regression:
        return {"sklearn LinearRegression()": LinearRegression(), "sklearn Ridge(alpha=1.0)": Ridge(alpha=1.0),
                "sklearn MLPRegressor((128,), max_iter=2000)":
                    MLPRegressor(hidden_layer_sizes=(128,), max_iter=2000, random_state=0)}
    return {"sklearn LogisticRegression(max_iter=5000)": LogisticRegression(max_iter=5000),
            "sklearn MLPClassifier((128,), max_iter=2000)":
                MLPClassifier(hidden_layer_sizes=(128,), max_iter=2000, random_state=0)}


def sklearn_rows(features, data, files, standardise, regression):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    train = features(data, files["train"] + files["validation"])
    test = features(data, files["test"])

    def model(estimator):
        return make_pipeline(StandardScaler(), estimator) if standardise else estimator
    return {label: fit_sklearn(model(e), train, test) for label, e in sklearn_estimators(regression).items()}


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
                  f"| model | test {'R2' if DATA_SETS[name].get('regression') else 'accuracy'} | seconds | recipe |",
                  "|---|---|---|---|"]
        for label, row in r["rows"].items():
            recipe = ", ".join(row.get("recipe", [])) or "fit on the same examples"
            lines.append(f"| {label} | {row['score']:.4f} | {row['seconds']:.1f} | {recipe} |")
        lines.append("")
    return "\n".join(lines)


def compare(build, work, name):
    spec = DATA_SETS[name]
    data = spec["make"](work)
    rows, split = {}, None
    regression = spec.get("regression", False)
    linear = "deepl linear (linear regression)" if regression else "deepl linear (logistic regression)"
    for model, label in (("linear", linear), ("mlp", "deepl mlp [128]")):
        run_dir = os.path.join(work, f"run-{name}-{model}")
        rows[label], files = train_deepl(build, data, spec["args"], RECIPES[model], model, run_dir)
        if split is not None and not same_split(split, files):
            raise SystemExit(f"{name}: deepl's two runs split the data differently")
        split = files
        print(f"{name} {label}: {rows[label]['score']:.4f}", flush=True)
    rows.update(sklearn_rows(spec["features"], data, split, spec["features"] is table_features, regression))
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
