#!/usr/bin/python3
"""deepl vs Python on a folder of pictures ("your own data"), side by side in one run on one machine.

    /usr/bin/python3 bench/own_data.py [--work /tmp/deepl-own-data-bench] [--pictures 7000]
                                      [--repeats 3] [--epochs 1] [--models resnet,mlp] [--out DIR] [--build build]

Makes once (cached under --work) a folder of N 32x32 RGB pictures in 10 class sub-folders, half PNG
and half JPEG (quality 90): the first N Fashion-MNIST training images, upscaled 28 -> 32 (bilinear)
and tinted with a per-image colour. Then measures:

- Decoding the folder. deepl: wall time of `deepl model summary --data PATH --model mlp` with the
  cache removed (cold: it decodes every picture on all cores and writes PATH/.deepl-cache/) and
  with the cache in place (warm); cold - warm is the decode + cache time. torchvision:
  `ImageFolder(PATH, transform=ToTensor())` read completely through `DataLoader(batch_size=64,
  num_workers=2)`, timed from construction to the end of the loop. Best of --repeats each.
- One training epoch on the decoded pictures, same model, batch and optimizer. deepl: `deepl train
  --data PATH --model M --set train.epochs=E --set data.batch_size=64 --set data.val_fraction=0
  --set threads=2`, the last epoch's seconds from the run folder's metrics.jsonl. Python: the same
  architecture (bench/reference.py's build_model), the same training files (the run's
  data_files.json), decoded and normalised into a float tensor beforehand (not timed), the
  optimizer of `deepl config show`, torch.set_num_threads(2), a per-batch gather from memory.

Writes results.md and results.json to --out (default bench/results/own-data-<ISA level>).
Needs python3-torch, python3-torchvision, python3-pil and python3-numpy (Debian).
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = os.path.join(ROOT, "data", "fashion-mnist")
# Fashion-MNIST's class names; "/" is not allowed in a folder name
CLASSES = ["T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]
THREADS = 2
BATCH = 64


def load_reference():
    """bench/reference.py as a module (read_idx, build_model, make_optimizer), not a copy of it."""
    spec = importlib.util.spec_from_file_location("reference", os.path.join(ROOT, "bench", "reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = load_reference()


# ---------------------------------------------------------------- the folder of pictures
def tinted_rgb(gray28, colour):
    """28x28 uint8 -> 32x32x3 uint8: bilinear upscale, then each channel scaled by the colour."""
    big = np.asarray(Image.fromarray(gray28).resize((32, 32), Image.BILINEAR), dtype=np.float32)
    return np.clip(big[..., None] * colour + 0.5, 0, 255).astype(np.uint8)


def make_pictures(work, count):
    """The folder of `count` pictures under `work`, made once (a .complete marker says it is whole)."""
    folder = os.path.join(work, f"fashion-rgb32-{count}")
    if os.path.exists(os.path.join(folder, ".complete")):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    images = REFERENCE.read_idx(os.path.join(FASHION, "train-images-idx3-ubyte"))[:count].numpy()
    labels = REFERENCE.read_idx(os.path.join(FASHION, "train-labels-idx1-ubyte"))[:count].numpy()
    for name in CLASSES:
        os.makedirs(os.path.join(folder, name))
    rng = np.random.default_rng(0)
    for i, (image, label) in enumerate(zip(images, labels)):
        picture = Image.fromarray(tinted_rgb(image, rng.uniform(0.3, 1.0, 3)), "RGB")
        stem = os.path.join(folder, CLASSES[label], f"{i:05d}")
        if i % 2 == 0:
            picture.save(stem + ".png")
        else:
            picture.save(stem + ".jpg", quality=90)
    open(os.path.join(folder, ".complete"), "w").close()
    return folder


# ---------------------------------------------------------------- deepl
def deepl(build, *args):
    """Runs build/apps/deepl; returns (stdout, wall seconds of the whole process)."""
    start = time.perf_counter()
    out = subprocess.run([os.path.join(ROOT, build, "apps", "deepl"), *args], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return out, time.perf_counter() - start


def machine(build):
    info = json.loads(deepl(build, "info", "--json")[0])
    version = deepl(build, "--version")[0].strip()
    import torch
    import torchvision
    return {"cpu": info["cpu"], "os": info["os"], "libtorch_version": info["libtorch_version"],
            "deepl_version": version, "auto_precision": info["auto_precision"],
            "python_torch": torch.__version__, "python_torchvision": torchvision.__version__}


def deepl_load_seconds(build, folder, cold):
    """Wall time of `deepl model summary` on the folder, with the cache removed first when cold."""
    if cold:
        shutil.rmtree(os.path.join(folder, ".deepl-cache"), ignore_errors=True)
    return deepl(build, "model", "summary", "--data", folder, "--model", "mlp")[1]


def deepl_train(build, folder, model, epochs, run_dir):
    """One `deepl train` run; returns its last epoch's record, the files it trained on and its manifest."""
    shutil.rmtree(run_dir, ignore_errors=True)
    deepl(build, "train", "--data", folder, "--model", model, "--set", f"train.epochs={epochs}",
          "--set", f"data.batch_size={BATCH}", "--set", "data.val_fraction=0",
          "--set", "train.checkpoint.monitor=train_loss", "--set", "train.early_stopping.monitor=train_loss",
          "--set", f"threads={THREADS}", "--out", run_dir, "-q")
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        epochs_seen = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(run_dir, "data_files.json")) as f:
        files = json.load(f)
    with open(os.path.join(run_dir, "manifest.json")) as f:
        manifest = json.load(f)
    return epochs_seen[-1], files["train"], manifest


# ---------------------------------------------------------------- torchvision / Python
def torchvision_load_seconds(folder):
    """ImageFolder + ToTensor read completely by a 2-worker DataLoader, construction to end of loop."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    class Folder(datasets.ImageFolder):
        def find_classes(self, directory):  # leave out .deepl-cache, as deepl leaves out dot names
            classes = sorted(e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith("."))
            return classes, {name: i for i, name in enumerate(classes)}

    start = time.perf_counter()
    loader = DataLoader(Folder(folder, transform=transforms.ToTensor()), batch_size=BATCH, num_workers=2)
    count = sum(x.shape[0] for x, _ in loader)
    return time.perf_counter() - start, count


def decode_tensor(folder, files):
    """The listed pictures (relative paths) as a float N x C x H x W tensor in [0, 1] and their labels."""
    import torch
    from torchvision.transforms.functional import to_tensor
    classes = sorted(n for n in os.listdir(folder) if not n.startswith("."))
    images = torch.stack([to_tensor(Image.open(os.path.join(folder, f)).convert("RGB")) for f in files])
    labels = torch.tensor([classes.index(f.split("/")[0]) for f in files])
    return images, labels, len(classes)


def python_epochs(cfg, images, labels, classes, epochs, bf16):
    """Trains deepl's model in PyTorch on in-memory images; returns the last epoch's examples per second."""
    import torch
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    mean = images.mean(dim=(0, 2, 3), keepdim=True)
    std = images.std(dim=(0, 2, 3), keepdim=True)
    images = (images - mean) / std  # deepl's normalize "train": per-channel statistics of the training split
    layout = torch.channels_last if bf16 else torch.contiguous_format
    model = REFERENCE.build_model(cfg["model"], images.shape[1], images.shape[2], classes).to(memory_format=layout)
    optimizer = REFERENCE.make_optimizer(cfg, model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    rate = 0.0
    for _ in range(epochs):
        order = torch.randperm(images.shape[0])
        start = time.perf_counter()
        for first in range(0, len(order), BATCH):
            idx = order[first:first + BATCH]
            x, y = images[idx].contiguous(memory_format=layout), labels[idx]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(x)
            loss_fn(out.float(), y).backward()
            optimizer.step()
        rate = images.shape[0] / (time.perf_counter() - start)
    return rate


# ---------------------------------------------------------------- the benchmarks
def per_second(count, seconds):
    return count / seconds if seconds else None  # None: not measured


def decode_benchmark(build, folder, count, repeats):
    """Cold and warm deepl loads interleaved (drift hits both), then torchvision; best of `repeats` each."""
    cold, warm = [], []
    for _ in range(repeats):
        cold.append(deepl_load_seconds(build, folder, cold=True))
        warm.append(deepl_load_seconds(build, folder, cold=False))
    runs = [torchvision_load_seconds(folder) for _ in range(repeats)]
    tv, seen = min(r[0] for r in runs), runs[0][1]
    decode = min(cold) - min(warm)
    if decode < max(0.02, 0.05 * min(warm)):  # within the noise of starting a process: too few pictures
        decode = None
    result = {"pictures": count, "torchvision_pictures": seen, "deepl_cold_s": min(cold), "deepl_warm_s": min(warm),
              "deepl_cold_runs_s": cold, "deepl_warm_runs_s": warm, "torchvision_runs_s": [r[0] for r in runs],
              "deepl_decode_s": decode, "torchvision_s": tv, "deepl_pictures_per_s": per_second(count, decode),
              "deepl_cold_pictures_per_s": count / min(cold), "torchvision_pictures_per_s": seen / tv}
    rate = result["deepl_pictures_per_s"]
    result["ratio"] = rate / result["torchvision_pictures_per_s"] if rate else None
    result["ratio_cold"] = result["deepl_cold_pictures_per_s"] / result["torchvision_pictures_per_s"]
    print(f"decode: deepl cold {min(cold):.2f} s, warm {min(warm):.2f} s -> {fmt(result['deepl_pictures_per_s'])} "
          f"pictures/s; torchvision {tv:.2f} s -> {result['torchvision_pictures_per_s']:.0f} pictures/s; "
          f"ratio {fmt(result['ratio'], '.2f')} (whole cold process {result['ratio_cold']:.2f})", flush=True)
    return result


def training_benchmark(build, folder, model, epochs, work):
    """deepl's epoch, then the same epoch in Python on the same training files."""
    cfg = json.loads(deepl(build, "config", "show", "--data", folder, "--model", model)[0])
    record, files, manifest = deepl_train(build, folder, model, epochs, os.path.join(work, f"run-{model}"))
    bf16 = manifest["precision"].startswith("bf16")
    images, labels, classes = decode_tensor(folder, files)
    python_rate = python_epochs(cfg, images, labels, classes, epochs, bf16)
    result = {"model": model, "epochs": epochs, "train_examples": len(files), "batch": BATCH,
              "optimizer": cfg["optimizer"]["type"], "lr": cfg["optimizer"]["lr"],
              "precision": manifest["precision"], "deepl_epoch_s": record["seconds"],
              "deepl_examples_per_s": record["examples_per_second"], "python_examples_per_s": python_rate}
    result["ratio"] = result["deepl_examples_per_s"] / python_rate
    print(f"train {model}: deepl {result['deepl_examples_per_s']:.0f} ex/s, Python {python_rate:.0f} ex/s, "
          f"ratio {result['ratio']:.2f}", flush=True)
    return result


# ---------------------------------------------------------------- report
def fmt(value, spec=".0f", none="-"):
    return none if value is None else format(value, spec)


def machine_line(m):
    cpu = m["cpu"]
    return (f"Machine: {cpu['model']}, {cpu['logical_cores']} cores, ISA level {cpu['isa_level']}, "
            f"{'native' if cpu['native_bf16'] else 'no native'} bf16; {m['os']}; deepl {m['deepl_version']}; "
            f"Python: torch {m['python_torch']}, torchvision {m['python_torchvision']}.")


def report(here, decode, training, repeats):
    d = decode
    lines = ["# Your own data: deepl vs Python on a folder of pictures (same machine, same run)", "",
             machine_line(here), "",
             f"Folder: {d['pictures']} pictures, 32x32 RGB, 10 class folders, half PNG half JPEG (quality 90), "
             f"from the first {d['pictures']} Fashion-MNIST training images (upscaled, tinted).", "",
             f"## Decoding the folder (best of {repeats})", "",
             f"deepl: `deepl model summary --data PATH --model mlp` (all {here['cpu']['logical_cores']} cores), cold "
             "(cache removed: decodes and writes PATH/.deepl-cache/) and warm (reads the cache); decode = cold - warm. "
             "torchvision: `ImageFolder(PATH, transform=ToTensor())` through `DataLoader(batch_size=64, "
             "num_workers=2)`, construction to the end of the loop.", "",
             "| | seconds | pictures/s | vs torchvision |", "|---|---|---|---|",
             f"| deepl decode + cache (cold - warm) | {fmt(d['deepl_decode_s'], '.2f', 'below noise')} | "
             f"{fmt(d['deepl_pictures_per_s'])} | {fmt(d['ratio'], '.2f')}{'x' if d['ratio'] else ''} |",
             f"| deepl whole cold process | {d['deepl_cold_s']:.2f} | {d['deepl_cold_pictures_per_s']:.0f} | "
             f"{d['ratio_cold']:.2f}x |",
             f"| deepl whole warm process | {d['deepl_warm_s']:.2f} | - | - |",
             f"| torchvision ImageFolder + DataLoader | {d['torchvision_s']:.2f} | "
             f"{d['torchvision_pictures_per_s']:.0f} | 1.00x |", "",
             "## Training epoch on the decoded pictures", "",
             f"Batch {BATCH}, {THREADS} threads, no validation split, the optimizer of `deepl config show`. deepl: the "
             "last epoch's seconds in the run's metrics.jsonl. Python: the same architecture (bench/reference.py), "
             "the same training files (the run's data_files.json) in memory as a normalised float tensor, a per-batch "
             "gather.", "",
             "| model | epochs | train pictures | optimizer | precision | deepl ex/s | Python ex/s | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {t['model']} | {t['epochs']} | {t['train_examples']} | {t['optimizer']} lr {t['lr']:g} | "
              f"{t['precision'].split(' ')[0]} | {t['deepl_examples_per_s']:.0f} | {t['python_examples_per_s']:.0f} | "
              f"{t['ratio']:.2f} |" for t in training]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/deepl-own-data-bench", help="where the pictures and runs go")
    ap.add_argument("--pictures", type=int, default=7000, help="pictures in the folder (at most 60000)")
    ap.add_argument("--repeats", type=int, default=3, help="decode timings: best of this many")
    ap.add_argument("--epochs", type=int, default=1, help="training epochs; the last one is timed")
    ap.add_argument("--models", default="resnet,mlp", help="models of the training benchmark")
    ap.add_argument("--out", help="results folder (default: bench/results/own-data-<ISA level>)")
    ap.add_argument("--build", default="build", help="build folder holding apps/deepl")
    args = ap.parse_args()
    here = machine(args.build)
    out = os.path.join(ROOT, args.out or os.path.join("bench", "results", f"own-data-{here['cpu']['isa_level']}"))
    os.makedirs(args.work, exist_ok=True)
    folder = make_pictures(args.work, args.pictures)
    print(f"{machine_line(here)}\nfolder: {folder}", flush=True)

    decode = decode_benchmark(args.build, folder, args.pictures, args.repeats)
    training = [training_benchmark(args.build, folder, m, args.epochs, args.work) for m in args.models.split(",")]

    text = report(here, decode, training, args.repeats)
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": here, "folder": folder, "decode": decode, "training": training}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
