#!/usr/bin/python3
"""deepl vs Python on a CSV table ("your own data"), side by side in one run on one machine.

    /usr/bin/python3 bench/own_table.py [--work /tmp/deepl-own-table-bench] [--rows 100000]
                                       [--columns 50] [--repeats 3] [--epochs 2] [--out DIR] [--build build]

Makes once (cached under --work) a CSV of N rows: C numeric columns (normal noise, 6 decimals) and
a text label "class_0".."class_9" from a fixed linear rule on them. Then measures:

- Loading the table. deepl: wall time of `deepl model summary --data TABLE --target label --model
  mlp` (parses the file with libcsv, checks every field, standardises) minus the same command on a
  3-row table (the process and LibTorch start-up); best of --repeats. For context, Python's
  `numpy.loadtxt` of the same file (numbers only, no checks beyond that).
- Training epochs on it, same model (an MLP with one hidden layer of 128), batch 64, Adam 1e-3, 2
  threads, no validation split. deepl: the last epoch's examples/s in the run's metrics.jsonl.
  Python: the same MLP on the training rows (the run's data_files.json) standardised in a float
  tensor in memory, a per-batch gather, torch.set_num_threads(2).

Writes results.md and results.json to --out (default bench/results/own-table-<ISA level>).
Needs python3-torch, python3-numpy and, through own_data.py's helpers, python3-pil and python3-torchvision (Debian).
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

from own_data import deepl, machine  # the same deepl runner and machine record as the picture benchmark

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS = 2
BATCH = 64
HIDDEN = 128


def make_table(work, rows, columns):
    path = os.path.join(work, f"table-{rows}x{columns}.csv")
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, columns))
    weights = rng.normal(size=(columns, 10))
    labels = (x @ weights).argmax(1)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(",".join(f"x{j}" for j in range(columns)) + ",label\n")
        for row, label in zip(x, labels):
            f.write(",".join(f"{v:.6f}" for v in row) + f",class_{label}\n")
    os.replace(tmp, path)
    return path


def make_tiny(work, columns):
    path = os.path.join(work, f"tiny-{columns}.csv")
    with open(path, "w") as f:
        f.write(",".join(f"x{j}" for j in range(columns)) + ",label\n")
        for k in range(3):
            f.write(",".join(["1.0"] * columns) + f",class_{k % 2}\n")
    return path


def load_benchmark(build, table, tiny, columns, repeats):
    summary = ("model", "summary", "--target", "label", "--model", "mlp", "--data")
    full = min(deepl(build, *summary, table)[1] for _ in range(repeats))
    start_up = min(deepl(build, *summary, tiny)[1] for _ in range(repeats))
    start = time.perf_counter()
    np.loadtxt(table, delimiter=",", skiprows=1, usecols=range(columns))
    numpy_s = time.perf_counter() - start
    result = {"deepl_process_s": full, "deepl_start_up_s": start_up, "deepl_load_s": full - start_up,
              "numpy_loadtxt_s": numpy_s}
    print(f"load: deepl {full - start_up:.2f} s (process {full:.2f} s, start-up {start_up:.2f} s); "
          f"numpy.loadtxt {numpy_s:.2f} s", flush=True)
    return result


def deepl_epochs(build, table, epochs, run_dir):
    shutil.rmtree(run_dir, ignore_errors=True)
    deepl(build, "train", "--data", table, "--target", "label", "--model", "mlp", "--set", f"model.hidden=[{HIDDEN}]",
          "--set", f"train.epochs={epochs}", "--set", f"data.batch_size={BATCH}", "--set", "data.val_fraction=0",
          "--set", "optimizer.type=adam", "--set", "optimizer.lr=0.001",
          "--set", "train.checkpoint.monitor=train_loss", "--set", "train.early_stopping.monitor=train_loss",
          "--set", f"threads={THREADS}", "--out", run_dir, "-q")
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(run_dir, "data_files.json")) as f:
        rows = [int(r.rsplit(":", 1)[1]) - 2 for r in json.load(f)["train"]]  # line 2 is row 0
    with open(os.path.join(run_dir, "manifest.json")) as f:
        precision = json.load(f)["precision"]
    return records[-1], rows, precision


def python_epochs(table, rows, epochs, bf16):
    import torch
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    data = np.loadtxt(table, delimiter=",", skiprows=1, dtype=str)
    x = torch.tensor(data[rows, :-1].astype(np.float32))
    y = torch.tensor(np.unique(data[rows, -1], return_inverse=True)[1])
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    rate = 0.0
    for _ in range(epochs):
        order = torch.randperm(x.shape[0])
        start = time.perf_counter()
        for first in range(0, len(order), BATCH):
            idx = order[first:first + BATCH]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(x[idx])
            loss_fn(out.float(), y[idx]).backward()
            optimizer.step()
        rate = x.shape[0] / (time.perf_counter() - start)
    return rate


def training_benchmark(build, table, epochs, work):
    record, rows, precision = deepl_epochs(build, table, epochs, os.path.join(work, "run-mlp"))
    python_rate = python_epochs(table, rows, epochs, precision.startswith("bf16"))
    result = {"epochs": epochs, "train_rows": len(rows), "batch": BATCH, "precision": precision,
              "deepl_examples_per_s": record["examples_per_second"], "python_examples_per_s": python_rate,
              "deepl_train_accuracy": record.get("train_accuracy")}
    result["ratio"] = result["deepl_examples_per_s"] / python_rate
    print(f"train mlp: deepl {result['deepl_examples_per_s']:.0f} ex/s, Python {python_rate:.0f} ex/s, "
          f"ratio {result['ratio']:.2f}", flush=True)
    return result


def report(here, shape, load, train, repeats):
    cpu = here["cpu"]
    return "\n".join([
        "# Your own data: deepl vs Python on a CSV table (same machine, same run)", "",
        f"Machine: {cpu['model']}, {cpu['logical_cores']} cores, ISA level {cpu['isa_level']}; {here['os']}; "
        f"deepl {here['deepl_version']}; Python torch {here['python_torch']}.", "",
        f"Table: {shape[0]} rows, {shape[1]} numeric columns (6 decimals) and a text label of 10 classes.", "",
        f"## Loading (best of {repeats})", "",
        "| | seconds |", "|---|---|",
        f"| deepl: parse, check, standardise (process minus a 3-row table's) | {load['deepl_load_s']:.2f} |",
        f"| deepl: whole `model summary` process | {load['deepl_process_s']:.2f} |",
        f"| numpy.loadtxt (numbers only, for context) | {load['numpy_loadtxt_s']:.2f} |", "",
        "## Training epochs", "",
        f"MLP [{HIDDEN}], batch {BATCH}, Adam 1e-3, {THREADS} threads, no validation split; the last of "
        f"{train['epochs']} epochs.", "",
        "| train rows | precision | deepl ex/s | Python ex/s | ratio |", "|---|---|---|---|---|",
        f"| {train['train_rows']} | {train['precision'].split(' ')[0]} | {train['deepl_examples_per_s']:.0f} | "
        f"{train['python_examples_per_s']:.0f} | {train['ratio']:.2f} |", ""])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/deepl-own-table-bench")
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--columns", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", help="results folder (default: bench/results/own-table-<ISA level>)")
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    here = machine(args.build)
    out = os.path.join(ROOT, args.out or os.path.join("bench", "results", f"own-table-{here['cpu']['isa_level']}"))
    os.makedirs(args.work, exist_ok=True)
    table = make_table(args.work, args.rows, args.columns)
    load = load_benchmark(args.build, table, make_tiny(args.work, args.columns), args.columns, args.repeats)
    train = training_benchmark(args.build, table, args.epochs, args.work)
    text = report(here, (args.rows, args.columns), load, train, args.repeats)
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": here, "rows": args.rows, "columns": args.columns, "load": load, "training": train}, f,
                  indent=2)


if __name__ == "__main__":
    sys.exit(main())
