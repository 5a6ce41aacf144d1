#!/usr/bin/env python3
"""Ablation of a shipped recipe: the experiment as shipped, then once with each of its pieces removed.

    python3 bench/ablation.py [--experiment mnist_best] [--threads 2] [--build build] [--out DIR]
                              [--set KEY=VALUE ...] [--fresh]

Each run is `deepl train --config experiments/<name>.json --set ...` in a fresh process at the same
thread count and seed; a piece is removed only when the config uses it (the one-cycle schedule becomes
a constant learning rate, label smoothing / weight average / shifts / flips / erasing are switched off,
progressive resizing trains every epoch at full size, weight decay applies to every parameter, SGD
loses Nesterov, a CNN's blocks lose their batch norm). Test-time augmentation needs no training run:
the shipped run's best.pt is evaluated again with `deepl eval --tta none`. Extra --set overrides go to
every run (e.g. train.epochs=1 for a quick look). Writes results.md and results.json to DIR (default
bench/results/ablation-<name>-<ISA level>) after every run: test and validation accuracy and the
training time each run reports. The same command continues where an interrupted ablation stopped,
skipping the runs results.json already holds (it must have been measured on this machine with the
same --set overrides); --fresh starts over.
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
        ("weight decay on every parameter", opt.get("no_decay_bias_bn", False),
         ["optimizer.no_decay_bias_bn=false"]),
        ("without Nesterov momentum", opt.get("nesterov", False), ["optimizer.nesterov=false"]),
    ]
    batch_norm = without_batch_norm(cfg.get("model", {}))
    candidates.append(("without batch norm", batch_norm is not None, [batch_norm]))
    return [(name, overrides) for name, used, overrides in candidates if used]


def reevaluations(cfg):
    """(run label, `deepl eval` arguments) for the pieces the shipped run's own weights can go without."""
    if not cfg.get("eval", {}).get("tta"):
        return []
    return [("without test-time augmentation (the shipped run's weights)", ["--tta", "none"])]


def run_deepl(build, args, wrote):
    cmd = [os.path.join(build, "apps", "deepl"), *args]
    subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True, text=True)
    if not os.path.exists(wrote):
        raise SystemExit(f"ablation.py: {' '.join(cmd)} wrote no {wrote}")
    return json.load(open(wrote))


def train(build, experiment, threads, overrides, evaluations=()):
    """The training run's row, then one row per (label, `deepl eval` arguments) evaluation of its best.pt."""
    with tempfile.TemporaryDirectory() as folder:
        run = os.path.join(folder, "run")
        args = ["train", "--config", experiment, "--threads", str(threads), "--quiet", "--out", run]
        for o in overrides:
            args += ["--set", o]
        metrics = run_deepl(build, args, os.path.join(run, "metrics.json"))
        history = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
        val = [h["val_accuracy"] for h in history if h.get("val_accuracy") is not None]
        rows = [{"test_accuracy": metrics["accuracy"], "val_accuracy": val[-1] if val else None,
                 "train_seconds": metrics["train_seconds"]}]
        def evaluate(i, eval_args):
            out = os.path.join(folder, f"eval-{i}")
            return run_deepl(build, ["eval", "--quiet", "--threads", str(threads), "--checkpoint",
                                     os.path.join(run, "checkpoints", "best.pt"), "--out", out, *eval_args],
                             os.path.join(out, "metrics.json"))

        # The training run's time includes its own test evaluation: swap that for the other evaluation's.
        own_evaluation_seconds = evaluate("own", [])["seconds"] if evaluations else 0
        for i, (label, eval_args) in enumerate(evaluations):
            again = evaluate(i, eval_args)
            rows.append({"run": label, "eval_args": eval_args, "test_accuracy": again["accuracy"], "val_accuracy": None,
                         "train_seconds": metrics["train_seconds"] - own_evaluation_seconds + again["seconds"]})
    return rows


def earlier_rows(path, experiment, machine, fresh):
    """The rows an interrupted ablation of this experiment on this machine already measured."""
    if fresh or not os.path.exists(path):
        return []
    earlier = json.load(open(path))
    if earlier.get("experiment") != experiment or earlier.get("machine") != machine:
        raise SystemExit(f"ablation.py: {path} holds an ablation of {earlier.get('experiment')} on "
                         f"\"{earlier.get('machine')}\"; use --out for another folder or --fresh to start over")
    return earlier["runs"]


def results_markdown(name, machine, rows):
    out = [f"# Ablation of {name}\n\n{machine}\n", "| run | test accuracy | change | validation | time |",
           "|---|---|---|---|---|"]
    full = rows[0]["test_accuracy"]
    for r in rows:
        val = f"{r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else "-"
        change = "" if r is rows[0] else f"{(r['test_accuracy'] - full) * 100:+.2f} points"
        out.append(f"| {r['run']} | {r['test_accuracy']:.4f} | {change} | {val} | {r['train_seconds']:.0f} s |")
    return "\n".join(out) + "\n"


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", default="mnist_best")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--build", default="build")
    ap.add_argument("--out")
    ap.add_argument("--set", action="append", default=[], help="override for every run, e.g. train.epochs=1")
    ap.add_argument("--fresh", action="store_true", help="start over instead of continuing DIR's results.json")
    args = ap.parse_args()
    experiment = os.path.join(ROOT, "experiments", args.experiment + ".json")
    cfg = json.load(open(experiment))
    cpu, machine = describe_machine(args.build, args.threads)
    if args.set:
        machine += f"; every run with --set {' '.join(args.set)}"
    out_dir = args.out or os.path.join(ROOT, "bench", "results", f"ablation-{args.experiment}-{cpu['isa_level']}")
    os.makedirs(out_dir, exist_ok=True)
    rows = earlier_rows(os.path.join(out_dir, "results.json"), args.experiment, machine, args.fresh)
    shipped_row_and_reevaluations = ("as shipped", [], reevaluations(cfg))
    for run, overrides, evaluations in [shipped_row_and_reevaluations] + [(r, o, []) for r, o in removals(cfg)]:
        if any(r["run"] == run for r in rows):
            continue
        measured = train(args.build, experiment, args.threads, args.set + overrides, evaluations)
        rows += [{"run": run, "overrides": overrides, **measured[0]}] + measured[1:]
        print("\n".join(json.dumps(r) for r in measured), flush=True)
        write_atomically(os.path.join(out_dir, "results.json"),
                         json.dumps({"experiment": args.experiment, "machine": machine, "runs": rows}, indent=1))
        write_atomically(os.path.join(out_dir, "results.md"), results_markdown(args.experiment, machine, rows))
    print(results_markdown(args.experiment, machine, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
