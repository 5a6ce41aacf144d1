#!/usr/bin/env python3
"""Ablation of a shipped recipe: the experiment as shipped, then once with each of its pieces removed.

    python3 bench/ablation.py [--experiment mnist_best] [--threads 2] [--build build] [--out DIR]
                              [--set KEY=VALUE ...]

Each run is `deepl train --config experiments/<name>.json --set ...` in a fresh process at the same
thread count and seed; a piece is removed only when the config uses it (the one-cycle schedule becomes
a constant learning rate, label smoothing / weight average / shifts / flips / erasing / test-time
augmentation are switched off, progressive resizing trains every epoch at full size, weight decay
applies to every parameter, SGD loses Nesterov, a CNN's blocks lose their batch norm). Extra --set
overrides go to every run (e.g. train.epochs=1 for a quick look). Writes
results.md and results.json to DIR (default bench/results/ablation-<name>-<ISA level>): test and
validation accuracy and the training time each run reports.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from time_to_accuracy import ROOT, describe_machine


def without_batch_norm(model):
    """The override that takes the batch norm out of a CNN's blocks; None when there is none to take out."""
    if model.get("type") != "cnn" or not any(b.get("batch_norm") for b in model.get("blocks", [])):
        return None
    blocks = [{k: v for k, v in b.items() if k != "batch_norm"} for b in model["blocks"]]
    return "model.blocks=" + json.dumps(blocks, separators=(",", ":"))


def removals(cfg):
    """(run label, overrides) for every recipe piece the config uses."""
    data, train, opt = cfg.get("data", {}), cfg.get("train", {}), cfg.get("optimizer", {})
    candidates = [
        ("without the one-cycle schedule (constant lr)", cfg.get("scheduler", {}).get("type") == "onecycle",
         ["scheduler.type=none"]),
        ("without label smoothing", train.get("label_smoothing", 0) > 0, ["train.label_smoothing=0"]),
        ("without the weight average (EMA)", train.get("ema", {}).get("decay", 0) > 0, ["train.ema.decay=0"]),
        ("without random shifts", data.get("random_crop", 0) > 0, ["data.random_crop=0"]),
        ("without random flips", data.get("hflip", False), ["data.hflip=false"]),
        ("without random erasing", data.get("random_erasing", 0) > 0, ["data.random_erasing=0"]),
        ("without progressive resizing (every epoch at full size)", bool(data.get("progressive_sizes")),
         ["data.progressive_sizes=[]"]),
        ("without test-time augmentation", bool(cfg.get("eval", {}).get("tta")), ["eval.tta=[]"]),
        ("weight decay on every parameter", opt.get("no_decay_bias_bn", False),
         ["optimizer.no_decay_bias_bn=false"]),
        ("without Nesterov momentum", opt.get("nesterov", False), ["optimizer.nesterov=false"]),
    ]
    batch_norm = without_batch_norm(cfg.get("model", {}))
    candidates.append(("without batch norm", batch_norm is not None, [batch_norm]))
    return [(name, overrides) for name, used, overrides in candidates if used]


def train(build, experiment, threads, overrides):
    with tempfile.TemporaryDirectory() as folder:
        cmd = [os.path.join(build, "apps", "deepl"), "train", "--config", experiment, "--threads", str(threads),
               "--quiet", "--out", os.path.join(folder, "run")]
        for o in overrides:
            cmd += ["--set", o]
        subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
        metrics_file = os.path.join(folder, "run", "metrics.json")
        if not os.path.exists(metrics_file):
            raise SystemExit(f"ablation.py: {' '.join(cmd)} wrote no metrics.json")
        metrics = json.load(open(metrics_file))
        history = [json.loads(line) for line in open(os.path.join(folder, "run", "metrics.jsonl"))]
    val = [h["val_accuracy"] for h in history if h.get("val_accuracy") is not None]
    return {"test_accuracy": metrics["accuracy"], "val_accuracy": val[-1] if val else None,
            "train_seconds": metrics["train_seconds"]}


def results_markdown(name, machine, rows):
    out = [f"# Ablation of {name}\n\n{machine}\n", "| run | test accuracy | change | validation | time |",
           "|---|---|---|---|---|"]
    full = rows[0]["test_accuracy"]
    for r in rows:
        val = f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "-"
        change = "" if r is rows[0] else f"{(r['test_accuracy'] - full) * 100:+.2f} points"
        out.append(f"| {r['run']} | {r['test_accuracy']:.4f} | {change} | {val} | {r['train_seconds']:.0f} s |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", default="mnist_best")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", default="build")
    ap.add_argument("--out")
    ap.add_argument("--set", action="append", default=[], help="override for every run, e.g. train.epochs=1")
    args = ap.parse_args()
    experiment = os.path.join(ROOT, "experiments", args.experiment + ".json")
    cfg = json.load(open(experiment))
    cpu, machine = describe_machine(args.build, args.threads)
    if args.set:
        machine += f"; every run with --set {' '.join(args.set)}"
    out_dir = args.out or os.path.join(ROOT, "bench", "results", f"ablation-{args.experiment}-{cpu['isa_level']}")
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for run, overrides in [("as shipped", [])] + removals(cfg):
        rows.append({"run": run, "overrides": overrides, **train(args.build, experiment, args.threads,
                                                                args.set + overrides)})
        print(json.dumps(rows[-1]), flush=True)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump({"experiment": args.experiment, "machine": machine, "runs": rows}, f, indent=1)
        with open(os.path.join(out_dir, "results.md"), "w") as f:
            f.write(results_markdown(args.experiment, machine, rows))
    print(results_markdown(args.experiment, machine, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
