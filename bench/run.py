#!/usr/bin/python3
"""deepl vs Python PyTorch, side by side in one run (interleaved, same machine, same settings).

    /usr/bin/python3 bench/run.py [--quick] [--out DIR] [--models mlp_mnist,vgg16_frozen] [--bf16 auto|always|never]
                                  [--build build-debian13]

Runs build/bench/deepl_bench and bench/reference.py for every shipped experiment at 1 and 2
threads (plus bf16 + channels-last for the convolutional models where the CPU runs bf16 natively,
or always with --bf16 always), each case in a fresh process (peak RSS is per process), and writes
results.md (tables) and results.json to DIR (default bench/results/<the CPU's ISA level>-libtorch<version>,
so runs on an AVX2 machine and on an AMX Xeon, and on LibTorch 1.13 and 2.6, sit side by side). Every result names the CPU. VGG16 runs with
random weights (speed does not depend on them), backbone frozen as shipped and all layers
trained. Needs python3-torch and python3-torchvision (Debian).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = "build"  # --build: the build folder whose deepl_bench and deepl run
DEEPL_BENCH = os.path.join(BUILD, "bench", "deepl_bench")
VGG = ["model.pretrained="]  # random weights
# label -> (experiment, config overrides, convolutional, steps scale)
CASES = {
    "mlp_mnist": ("mlp_mnist", [], False, 1.0),
    "mlp_deep_mnist": ("mlp_deep_mnist", [], False, 1.0),
    "cnn_mnist": ("cnn_mnist", [], True, 1.0),
    "fashion_mlp": ("fashion_mlp", [], False, 1.0),
    "fashion_cnn": ("fashion_cnn", [], True, 0.5),
    "vgg16_frozen": ("fashion_vgg16", VGG, True, 0.04),
    "vgg16_all_layers": ("fashion_vgg16", VGG + ["model.freeze=0"], True, 0.03),
}


def run(cmd):
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def case(impl, label, threads, precision, channels_last, steps, eval_examples):
    experiment, overrides, _, scale = CASES[label]
    steps = max(4, int(steps * scale))
    common = ["--config", os.path.join("experiments", experiment + ".json"), "--threads", str(threads),
              "--steps", str(steps), "--warmup", str(max(2, steps // 10)),
              "--eval-examples", str(max(512, int(eval_examples * scale))), "--precision", precision]
    for o in overrides:
        common += ["--set", o]
    if channels_last:
        common.append("--channels-last")
    cmd = [DEEPL_BENCH] + common if impl == "deepl" else [sys.executable, os.path.join("bench", "reference.py")] + common
    result = run(cmd)
    result["model"] = label
    return result


def compute_limit(peak, row):
    """The dense-kernel rate that bounds this model: GEMM for MLPs, convolution for CNNs."""
    p = peak[row["threads"]]
    if row["precision"].startswith("bf16"):
        return p["conv_bf16_cl_gflops"]
    return p["conv_fp32_gflops"] if CASES[row["model"]][2] else p["gemm_fp32_gflops"]


def ratio(a, b):
    return f"{a / b:.2f}" if b > 0 else "-"


def results_table(peak, rows):
    fp32_python = {(r["python"]["model"], r["python"]["threads"]): r["python"] for r in rows
                   if r["python"]["precision"] == "fp32"}
    lines = ["| model | precision | threads | train ex/s deepl | Python | ratio | vs Python fp32 | eval ex/s deepl | "
             "Python notebook loop | ratio | Python in-memory loop | ratio | epoch s deepl | data share deepl | "
             "peak RSS MB deepl | Python | useful GFLOP/s | limit GFLOP/s | of limit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, p = r["deepl"], r["python"]
        base = fp32_python.get((d["model"], d["threads"]), p)
        limit = compute_limit(peak, d)
        lines.append(
            f"| {d['model']} | {d['precision']} | {d['threads']} | {d['train_examples_per_s']:.0f} | "
            f"{p['train_examples_per_s']:.0f} | {ratio(d['train_examples_per_s'], p['train_examples_per_s'])} | "
            f"{ratio(d['train_examples_per_s'], base['train_examples_per_s'])} | {d['eval_examples_per_s']:.0f} | "
            f"{p['eval_examples_per_s']:.0f} | {ratio(d['eval_examples_per_s'], p['eval_examples_per_s'])} | "
            f"{p['eval_in_memory_examples_per_s']:.0f} | "
            f"{ratio(d['eval_examples_per_s'], p['eval_in_memory_examples_per_s'])} | "
            f"{d['epoch_seconds']:.1f} | {100 * d['data_fraction']:.1f}% | {d['peak_rss_mb']:.0f} | "
            f"{p['peak_rss_mb']:.0f} | {d['train_gflops_per_s']:.1f} | {limit:.0f} | "
            f"{100 * d['train_gflops_per_s'] / limit:.0f}% |")
    return lines


def scaling(with_bf16):
    scale = []
    for fraction in (0.25, 0.5, 1.0):
        n = int(54000 * fraction)
        r = run([DEEPL_BENCH, "--config", "experiments/mlp_mnist.json", "--threads", "2", "--train-examples", str(n),
                 "--eval-examples", "1000"])
        scale.append({"kind": "examples", "value": n, "epoch_seconds": r["epoch_seconds"]})
    for batch in (32, 64, 128, 256, 512):
        for precision in ("fp32", "bf16") if with_bf16 else ("fp32",):
            r = run([DEEPL_BENCH, "--config", "experiments/cnn_mnist.json", "--threads", "2", "--batch", str(batch),
                     "--steps", str(max(20, 6400 // batch)), "--eval-examples", "1000", "--precision", precision]
                    + (["--channels-last"] if precision == "bf16" else []))
            scale.append({"kind": "batch", "value": batch, "precision": r["precision"],
                          "examples_per_s": r["train_examples_per_s"]})
    lines = ["", "Scaling (deepl, 2 threads): epoch time of mlp_mnist against data size, and cnn_mnist training "
             "throughput against batch size.", "", "| data size | epoch s |", "|---|---|"]
    lines += [f"| {s['value']} | {s['epoch_seconds']:.2f} |" for s in scale if s["kind"] == "examples"]
    lines += ["", "| batch | train ex/s fp32 | train ex/s bf16+cl |", "|---|---|---|"]
    by_batch = {}
    for s in scale:
        if s["kind"] == "batch":
            by_batch.setdefault(s["value"], {})[s["precision"]] = s["examples_per_s"]
    lines += [f"| {b} | {v['fp32']:.0f} | {v['bf16+cl']:.0f} |" if "bf16+cl" in v else f"| {b} | {v['fp32']:.0f} | - |"
              for b, v in by_batch.items()]
    return scale, lines


def optimizer_steps():
    """LibTorch's Adam against deepl's fused Adam, one step over each model's parameters."""
    rows = []
    for label in ("mlp_mnist", "mlp_deep_mnist", "cnn_mnist", "vgg16_all_layers"):
        experiment, overrides, _, _ = CASES[label]
        for threads in (1, 2):
            cmd = [DEEPL_BENCH, "--config", os.path.join("experiments", experiment + ".json"), "--threads",
                   str(threads), "--adam"]
            for o in overrides:
                cmd += ["--set", o]
            r = run(cmd)
            r["model"] = label
            rows.append(r)
    lines = ["", "Optimizer step (Adam, random gradients, best of 5 x 20 steps): LibTorch's torch::optim::Adam "
             "against deepl's FusedAdam.", "", "| model | parameters | threads | LibTorch ms | fused ms | speed-up |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['parameters']:,} | {r['threads']} | {r['adam_libtorch_ms']:.2f} | "
              f"{r['adam_fused_ms']:.2f} | {r['adam_libtorch_ms'] / r['adam_fused_ms']:.1f}x |" for r in rows]
    return rows, lines


def machine():
    """The CPU and LibTorch the run measured (as deepl_bench reports them)."""
    info = json.loads(subprocess.run([os.path.join(BUILD, "apps", "deepl"), "info", "--json"], cwd=ROOT, check=True,
                                     capture_output=True, text=True).stdout)
    return {"cpu": info["cpu"], "libtorch_version": info["libtorch_version"], "os": info["os"],
            "blas": info["blas"], "onednn": info["onednn"]}


def machine_line(m):
    cpu = m["cpu"]
    return (f"Machine: {cpu['model']}, {cpu['logical_cores']} cores, ISA level {cpu['isa_level']}, "
            f"{'native' if cpu['native_bf16'] else 'no native'} bf16; {m['os']}, LibTorch {m['libtorch_version']}, "
            f"oneDNN ISA {m['onednn']['effective_isa']}.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument("--out", help="results folder (default: bench/results/<ISA level>-libtorch<version>)")
    ap.add_argument("--bf16", choices=["auto", "always", "never"], default="auto",
                    help="bf16 rows: only where the CPU runs bf16 natively (auto; elsewhere they run 16x slower), "
                         "always, or never")
    ap.add_argument("--models", default=",".join(CASES))
    ap.add_argument("--no-scaling", action="store_true", help="skip the data-size and batch-size sweeps")
    ap.add_argument("--threads", default="1,2", help="thread counts to measure")
    ap.add_argument("--build", default="build", help="build folder (e.g. build-debian13 inside scripts/check-debian13)")
    args = ap.parse_args()
    global BUILD, DEEPL_BENCH
    BUILD, DEEPL_BENCH = args.build, os.path.join(args.build, "bench", "deepl_bench")
    steps, eval_examples = (30, 2000) if args.quick else (200, 10000)
    here = machine()
    line = ".".join(here["libtorch_version"].split(".")[:2])
    out = args.out or os.path.join("bench", "results", f"{here['cpu']['isa_level']}-libtorch{line}")
    with_bf16 = args.bf16 == "always" or (args.bf16 == "auto" and here["cpu"]["native_bf16"])
    os.makedirs(os.path.join(ROOT, out), exist_ok=True)

    peak = {t: run([DEEPL_BENCH, "--peak", "--threads", str(t)]) for t in (1, 2)}
    rows = []
    for label in args.models.split(","):
        settings = [("fp32", False)] + ([("bf16", True)] if CASES[label][2] and with_bf16 else [])
        for threads in [int(t) for t in args.threads.split(",")]:
            for precision, cl in settings:
                pair = {}
                for impl in ("deepl", "python"):  # interleaved: each pair runs back to back
                    pair[impl] = case(impl, label, threads, precision, cl, steps, eval_examples)
                rows.append(pair)
                d, p = pair["deepl"], pair["python"]
                print(f"{label} {d['precision']} {threads}t: train {d['train_examples_per_s']:.0f} vs "
                      f"{p['train_examples_per_s']:.0f} ex/s, eval {d['eval_examples_per_s']:.0f} vs "
                      f"{p['eval_examples_per_s']:.0f} (notebook) / {p['eval_in_memory_examples_per_s']:.0f} "
                      f"(in memory) ex/s", flush=True)

    lines = ["# deepl vs Python PyTorch (same machine, same run, interleaved)", "", machine_line(here), "",
             f"Dense rate measured by LibTorch here: GEMM 2048² fp32 {peak[1]['gemm_fp32_gflops']:.0f} GFLOP/s at 1 "
             f"thread, {peak[2]['gemm_fp32_gflops']:.0f} at 2; convolution fp32 {peak[1]['conv_fp32_gflops']:.0f} / "
             f"{peak[2]['conv_fp32_gflops']:.0f}, bf16 channels-last {peak[1]['conv_bf16_cl_gflops']:.0f} / "
             f"{peak[2]['conv_bf16_cl_gflops']:.0f} GFLOP/s at 1 / 2 threads. The limit column is the rate that "
             "bounds each row (GEMM for MLPs, convolution for the others, bf16 for bf16 rows).", ""]
    lines += results_table(peak, rows)
    scale, adam = [], []
    if not args.quick and not args.no_scaling:
        scale, scale_lines = scaling(with_bf16)
        lines += scale_lines
    if not args.quick:
        adam, adam_lines = optimizer_steps()
        lines += adam_lines

    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(ROOT, out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(ROOT, out, "results.json"), "w") as f:
        json.dump({"machine": here, "peak": peak, "rows": rows, "scale": scale, "optimizer": adam}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
