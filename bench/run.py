#!/usr/bin/python3
"""deepl vs Python PyTorch, side by side in one run (interleaved, same machine, same settings).

    /usr/bin/python3 bench/run.py [--quick] [--out bench/results]

Runs build/bench/deepl_bench and bench/reference.py for every shipped experiment at 1 and 2
threads (plus bf16 + channels-last for the CNNs), each case in a fresh process (peak RSS is per
process), and writes results.md (tables) and results.json. Needs python3-torch (Debian).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["mlp_mnist", "mlp_deep_mnist", "cnn_mnist", "fashion_mlp", "fashion_cnn"]
CNNS = {"cnn_mnist", "fashion_cnn"}


def run(cmd):
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def case(impl, model, threads, precision, channels_last, steps, eval_examples):
    config = os.path.join("experiments", model + ".json")
    common = ["--config", config, "--threads", str(threads), "--steps", str(steps),
              "--eval-examples", str(eval_examples), "--precision", precision]
    if channels_last:
        common.append("--channels-last")
    if impl == "deepl":
        return run([os.path.join("build", "bench", "deepl_bench")] + common)
    return run([sys.executable, os.path.join("bench", "reference.py")] + common)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument("--out", default=os.path.join("bench", "results"))
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    steps, eval_examples = (30, 2000) if args.quick else (200, 10000)
    os.makedirs(os.path.join(ROOT, args.out), exist_ok=True)

    peak = {t: run([os.path.join("build", "bench", "deepl_bench"), "--peak", "--threads", str(t)]) for t in (1, 2)}
    rows = []
    for model in args.models.split(","):
        settings = [("fp32", False)] + ([("bf16", True)] if model in CNNS else [])
        for threads in (1, 2):
            for precision, cl in settings:
                pair = {}
                for impl in ("deepl", "python"):  # interleaved: each pair runs back to back
                    pair[impl] = case(impl, model, threads, precision, cl, steps, eval_examples)
                rows.append(pair)
                d, p = pair["deepl"], pair["python"]
                print(f"{model} {d['precision']} {threads}t: train {d['train_examples_per_s']:.0f} vs "
                      f"{p['train_examples_per_s']:.0f} ex/s, eval {d['eval_examples_per_s']:.0f} vs "
                      f"{p['eval_examples_per_s']:.0f} ex/s", flush=True)

    fp32_python = {(r["python"]["model"], r["python"]["threads"]): r["python"] for r in rows
                   if r["python"]["precision"] == "fp32"}
    lines = ["# deepl vs Python PyTorch (same machine, same run, interleaved)", "",
             f"Dense rate measured by LibTorch here: GEMM 2048² fp32 {peak[1]['gemm_fp32_gflops']:.0f} GFLOP/s at 1 "
             f"thread, {peak[2]['gemm_fp32_gflops']:.0f} at 2; convolution fp32 {peak[2]['conv_fp32_gflops']:.0f}, "
             f"bf16 channels-last {peak[2]['conv_bf16_cl_gflops']:.0f} GFLOP/s at 2 threads.", "",
             "| model | precision | threads | train ex/s deepl | Python | ratio | vs Python fp32 | eval ex/s deepl | "
             "Python (notebook loop) | ratio | epoch s deepl | data share deepl | peak RSS MB deepl | Python | "
             "useful GFLOP/s | of GEMM peak |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, p = r["deepl"], r["python"]
        base = fp32_python[(d["model"], d["threads"])]
        peak_rate = peak[d["threads"]]["gemm_fp32_gflops"]
        lines.append(
            f"| {d['model']} | {d['precision']} | {d['threads']} | {d['train_examples_per_s']:.0f} | "
            f"{p['train_examples_per_s']:.0f} | {d['train_examples_per_s'] / p['train_examples_per_s']:.2f} | "
            f"{d['train_examples_per_s'] / base['train_examples_per_s']:.2f} | {d['eval_examples_per_s']:.0f} | "
            f"{p['eval_examples_per_s']:.0f} | {d['eval_examples_per_s'] / p['eval_examples_per_s']:.2f} | "
            f"{d['epoch_seconds']:.1f} | {100 * d['data_fraction']:.1f}% | {d['peak_rss_mb']:.0f} | "
            f"{p['peak_rss_mb']:.0f} | {d['train_gflops_per_s']:.1f} | {100 * d['train_gflops_per_s'] / peak_rate:.0f}% |")

    scale = []
    if not args.quick:
        for fraction in (0.25, 0.5, 1.0):
            n = int(54000 * fraction)
            r = run([os.path.join("build", "bench", "deepl_bench"), "--config", "experiments/mlp_mnist.json",
                     "--threads", "2", "--train-examples", str(n), "--eval-examples", "1000"])
            scale.append({"kind": "examples", "value": n, "epoch_seconds": r["epoch_seconds"]})
        for batch in (32, 64, 128, 256, 512):
            r = run([os.path.join("build", "bench", "deepl_bench"), "--config", "experiments/cnn_mnist.json",
                     "--threads", "2", "--batch", str(batch), "--steps", str(max(20, 6400 // batch)),
                     "--eval-examples", "1000"])
            scale.append({"kind": "batch", "value": batch, "examples_per_s": r["train_examples_per_s"]})
        lines += ["", "Scaling (deepl, 2 threads): epoch time of mlp_mnist against data size, and cnn_mnist fp32 "
                  "training throughput against batch size.", "", "| data size | epoch s |", "|---|---|"]
        lines += [f"| {s['value']} | {s['epoch_seconds']:.2f} |" for s in scale if s["kind"] == "examples"]
        lines += ["", "| batch | train ex/s |", "|---|---|"]
        lines += [f"| {s['value']} | {s['examples_per_s']:.0f} |" for s in scale if s["kind"] == "batch"]

    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(ROOT, args.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(ROOT, args.out, "results.json"), "w") as f:
        json.dump({"peak": peak, "rows": rows, "scale": scale}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
