#!/usr/bin/python3
"""Time to accuracy: deepl against the same recipe in Python PyTorch, in one interleaved run.

    /usr/bin/python3 bench/time_to_accuracy.py [--experiments mnist_best] [--threads 2]
                                              [--rounds 1] [--out DIR] [--build build]

For each round and experiment, runs `deepl train --config experiments/<name>.json` and then this
file's plain-PyTorch version of the same recipe (model and initialisation, batch, stratified
validation split, normalisation, random crop / flip / erasing, progressive resizing, SGD or Adam
with no decay on biases and batch norms, one-cycle or cosine schedule, label smoothing, weight
average, validation every epoch or, without a validation split, best epoch by training loss, flip
and shift test-time augmentation, test of the best epoch's weights), each in a fresh process at
the same thread count and seed, and in the precision deepl's run resolved (bf16 autocast with
channels-last on a CPU with native bf16, fp32 elsewhere). Seconds are the wall time of the whole
process, from start to the final test evaluation; an implementation reaches the target when its test
accuracy meets the config's expect.test_accuracy. Writes results.md and results.json to DIR (default
bench/results/time-to-accuracy-<ISA level>). Needs python3-torch and python3-torchvision (Debian).
"""
import argparse
import copy
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- the recipe in Python PyTorch
def stratified_split(labels, val_fraction, generator):
    """Indices of the training and validation examples, validation drawn per class."""
    import torch
    val = []
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        val.append(members[:round(len(members) * val_fraction)])
    is_val = torch.zeros(len(labels), dtype=torch.bool)
    is_val[torch.cat(val)] = True
    return (~is_val).nonzero().flatten(), is_val.nonzero().flatten()


def augment(images, data, generator, erasing):
    """uint8 N x 1 x H x W: random crop with zero padding and random flips as one gather; erasing per image."""
    import torch
    n, _, h, w = images.shape
    pad = data.get("random_crop", 0)
    if pad:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=generator)
        ox = torch.randint(0, 2 * pad + 1, (n, 1, 1), generator=generator)
        rows = oy + torch.arange(h).view(1, h, 1)
        cols = ox + torch.arange(w).view(1, 1, w)
        images = padded[torch.arange(n).view(n, 1, 1), 0, rows, cols].unsqueeze(1)
    if data.get("hflip", False):
        flip = torch.rand(n, generator=generator) < 0.5
        images = torch.where(flip.view(n, 1, 1, 1), images.flip(-1), images)
    if erasing is not None:
        images = torch.stack([erasing(image) for image in images])
    return images


def init_like_torchvision(model, zero_init_residual):
    """deepl's resnet initialises as torchvision's ResNet: kaiming_normal_ (fan_out) convolutions, BN 1/0,
    and with zero_init_residual each block's last layer zeroed (bn2, or conv2 when pre-activated)."""
    from torch import nn
    from reference import BasicBlock
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if not zero_init_residual:
        return
    for m in model.modules():  # after the batch norms' ones, which would undo it
        if isinstance(m, BasicBlock):
            nn.init.zeros_((m.conv2 if m.preact else m.bn2).weight)


def make_optimizer(o, model):
    import torch
    params = [p for p in model.parameters() if p.requires_grad]
    wd = o.get("weight_decay", 0.0)
    if o.get("no_decay_bias_bn", False):
        groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": wd},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    else:
        groups = [{"params": params, "weight_decay": wd}]
    lr, kind = o.get("lr", 1e-3), o.get("type", "adam")
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=o.get("momentum", 0.0), nesterov=o.get("nesterov", False))
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(groups, lr=lr, betas=tuple(o.get("betas", [0.9, 0.999])), eps=o.get("eps", 1e-8))


def make_scheduler(s, optimizer, epochs, steps_per_epoch):
    """(scheduler, stepped per batch); the schedules the shipped recipes use."""
    import torch
    kind = s.get("type", "none")
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=epochs * steps_per_epoch,
            pct_start=s.get("pct_start", 0.3), div_factor=s.get("div_factor", 25.0),
            final_div_factor=s.get("final_div_factor", 1e4), cycle_momentum=s.get("cycle_momentum", True),
            base_momentum=s.get("base_momentum", 0.85), max_momentum=s.get("max_momentum", 0.95)), True
    if kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs, eta_min=s.get("min_lr", 0.0)), False
    if kind == "none":
        return None, False
    raise SystemExit(f"time_to_accuracy.py: scheduler.type {kind} is not written here")


class WeightAverage:
    """timm's ModelEmaV3 as deepl's train.ema: decay min(decay, 1 - (1 + step)^(-2/3)) while young."""

    def __init__(self, model, decay, warmup):
        self.model, self.decay, self.warmup, self.steps = copy.deepcopy(model), decay, warmup, 0
        for p in self.model.parameters():
            p.requires_grad_(False)

    def update(self, model):
        import torch
        d = min(self.decay, 1 - (1 + self.steps) ** (-2 / 3)) if self.warmup else self.decay
        self.steps += 1
        with torch.no_grad():
            for average, current in zip(self.model.state_dict().values(), model.state_dict().values()):
                if average.dtype.is_floating_point:
                    average.lerp_(current, 1 - d)
                else:
                    average.copy_(current)


def tta_views(x, tta):
    """deepl's eval.tta views: the image; with "shift" its four one-pixel shifts (edges repeated);
    with "hflip" each of those mirrored."""
    import torch
    views = [x]
    if "shift" in tta:
        padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        h, w = x.shape[-2:]
        views += [padded[..., dy:dy + h, dx:dx + w] for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2))]
    if "hflip" in tta:
        views += [view.flip(-1) for view in views]
    return views


def accuracy(model, images, labels, normalise, batch, tta, precision):
    """Test accuracy with the logits averaged over the eval.tta views, as deepl's evaluation."""
    import torch
    model.eval()
    correct = 0
    with torch.no_grad(), precision.autocast():
        for i in range(0, len(images), batch):
            views = tta_views(normalise(images[i:i + batch]), tta)
            out = sum(model(precision.layout(view.contiguous())).float() for view in views) / len(views)
            correct += (out.argmax(1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


class Precision:
    """deepl's resolved train.precision and channels-last: bf16 autocast and NHWC tensors, or plain fp32."""

    def __init__(self, bf16, channels_last):
        self.bf16, self.channels_last = bf16, channels_last

    def autocast(self):
        import torch
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def layout(self, x):
        import torch
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x


def python_run(cfg, threads, data_root, precision):
    """Trains and tests one config as deepl would; returns the test accuracy of the best epoch."""
    import torch
    from torchvision import transforms
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from reference import build_model, read_idx
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.get("seed", 0))
    generator = torch.Generator().manual_seed(cfg.get("seed", 0))
    data = cfg["data"]
    folder = os.path.join(data_root, data["dataset"])
    images = read_idx(os.path.join(folder, "train-images-idx3-ubyte")).unsqueeze(1)
    labels = read_idx(os.path.join(folder, "train-labels-idx1-ubyte")).long()
    test_images = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte")).unsqueeze(1)
    test_labels = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte")).long()
    train_idx, val_idx = stratified_split(labels, data.get("val_fraction", 0.1), generator)
    pixels = images[train_idx].float().div(255)
    mean, std = pixels.mean().item(), pixels.std().item()

    def normalise(x):
        return x.float().div_(255).sub_(mean).div_(std)

    model = build_model(cfg["model"])
    if cfg["model"]["type"] == "resnet":
        init_like_torchvision(model, cfg["model"].get("zero_init_residual", False))
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = cfg.get("train", {})
    epochs, batch = train.get("epochs", 10), data.get("batch_size", 64)
    steps_per_epoch = math.ceil(len(train_idx) / batch)
    optimizer = make_optimizer(cfg.get("optimizer", {}), model)
    scheduler, per_step = make_scheduler(cfg.get("scheduler", {}), optimizer, epochs, steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=train.get("label_smoothing", 0.0))
    ema_cfg = train.get("ema", {})
    average = WeightAverage(model, ema_cfg["decay"], ema_cfg.get("warmup", True)) if ema_cfg.get("decay", 0) else None
    p = data.get("random_erasing", 0.0)
    erasing = transforms.RandomErasing(p, tuple(data.get("random_erasing_scale", [0.02, 0.33])),
                                       tuple(data.get("random_erasing_ratio", [0.3, 3.3])), value=0) if p else None
    tta = cfg.get("eval", {}).get("tta", [])
    eval_batch = data.get("eval_batch_size", 1000)
    best, best_state = -math.inf, None
    sizes = data.get("progressive_sizes", [])
    for epoch in range(epochs):
        model.train()
        side = sizes[min(epoch * len(sizes) // epochs, len(sizes) - 1)] if sizes else None
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        train_loss = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            x = normalise(augment(images[idx], data, generator, erasing))
            if side is not None and side != x.shape[-1]:  # deepl's progressive resizing: area averaging when shrinking
                x = torch.nn.functional.adaptive_avg_pool2d(x, side) if side < x.shape[-1] else \
                    torch.nn.functional.interpolate(x, size=side, mode="bilinear", align_corners=False)
            x = precision.layout(x)
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                loss = loss_fn(model(x), labels[idx])
            loss.backward()
            train_loss += loss.item() * len(idx)
            optimizer.step()
            if average:
                average.update(model)
            if per_step:
                scheduler.step()
        if scheduler is not None and not per_step:
            scheduler.step()
        judged = average.model if average else model
        if len(val_idx):
            val = accuracy(judged, images[val_idx], labels[val_idx], normalise, eval_batch, tta, precision)
        else:  # no validation split: best by training loss, as deepl's train.checkpoint.monitor train_loss
            val = -train_loss / len(order)
        if val > best:
            best, best_state = val, copy.deepcopy(judged.state_dict())
    model.load_state_dict(best_state)
    return accuracy(model, test_images, test_labels, normalise, eval_batch, tta, precision), epochs


# ---------------------------------------------------------------- the interleaved comparison
def describe_machine(build, threads):
    """(deepl info's cpu section, "<CPU>, N cores, ISA level X; T threads; LibTorch V") for result files."""
    info = json.loads(subprocess.run([os.path.join(build, "apps", "deepl"), "info", "--json"], cwd=ROOT,
                                     check=True, capture_output=True, text=True).stdout)
    cpu = info["cpu"]
    return cpu, (f"{cpu['model']}, {cpu['logical_cores']} cores, ISA level {cpu['isa_level']}; {threads} threads; "
                 f"LibTorch {info['libtorch_version']}")


def timed(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def deepl_case(build, experiment, threads):
    with tempfile.TemporaryDirectory() as folder:
        seconds, _ = timed([os.path.join(build, "apps", "deepl"), "train", "--config", experiment, "--threads",
                            str(threads), "--quiet", "--out", os.path.join(folder, "run")])
        metrics = json.load(open(os.path.join(folder, "run", "metrics.json")))
        precision = json.load(open(os.path.join(folder, "run", "manifest.json")))["precision"]
    return {"impl": "deepl", "seconds": seconds, "test_accuracy": metrics["accuracy"], "epochs": metrics["epochs"],
            "precision": precision}


def python_case(experiment, threads, data_root, deepl_precision):
    """The Python recipe in the precision and layout deepl's run resolved (its manifest's "precision")."""
    flags = ["--bf16"] if deepl_precision.startswith("bf16") else []
    flags += ["--channels-last"] if "channels-last" in deepl_precision else []
    seconds, out = timed([sys.executable, os.path.abspath(__file__), "--python-run", experiment, "--threads",
                          str(threads), "--data", data_root, *flags])
    result = json.loads(out.strip().splitlines()[-1])
    return {"impl": "python", "seconds": seconds, **result}


def time_text(row, target):
    return f"{row['seconds']:.0f} s" if row["test_accuracy"] >= target else f"not reached ({row['seconds']:.0f} s)"


def without_reasons(precision):
    """The manifest's precision without its parenthesised reasons (one level of nesting)."""
    return re.sub(r" \((?:[^()]|\([^()]*\))*\)", "", precision)


def results_markdown(machine, rows, targets):
    out = [f"# Time to accuracy, deepl against Python PyTorch\n\n{machine}\n",
           "| experiment | target | round | precision | deepl test accuracy | deepl time | Python test accuracy | "
           "Python time | deepl speed-up |", "|---|---|---|---|---|---|---|---|---|"]
    for (experiment, rnd), pair in rows.items():
        d, p = pair["deepl"], pair["python"]
        target = targets[experiment]
        both = d["test_accuracy"] >= target and p["test_accuracy"] >= target
        speedup = f"{p['seconds'] / d['seconds']:.2f}x" if both else "-"
        precision = without_reasons(d["precision"])
        out.append(f"| {experiment} | {target:.4f} | {rnd} | {precision} | {d['test_accuracy']:.4f} | "
                   f"{time_text(d, target)} | "
                   f"{p['test_accuracy']:.4f} | {time_text(p, target)} | {speedup} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiments", default="mnist_best", help="comma-separated shipped experiment names")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--build", default="build")
    ap.add_argument("--data", default=os.environ.get("DEEPL_DATA", os.path.join(ROOT, "data")))
    ap.add_argument("--out")
    ap.add_argument("--python-run", help=argparse.SUPPRESS)  # one Python training, in its own process
    ap.add_argument("--bf16", action="store_true", help=argparse.SUPPRESS)  # with --python-run
    ap.add_argument("--channels-last", action="store_true", help=argparse.SUPPRESS)  # with --python-run
    args = ap.parse_args()
    if args.python_run:
        precision = Precision(args.bf16, args.channels_last)
        test_accuracy, epochs = python_run(json.load(open(args.python_run)), args.threads, args.data, precision)
        print(json.dumps({"test_accuracy": test_accuracy, "epochs": epochs}))
        return 0
    cpu, machine = describe_machine(args.build, args.threads)
    machine += f" (deepl) and PyTorch {__import__('torch').__version__} (Python)"
    out_dir = args.out or os.path.join(ROOT, "bench", "results", f"time-to-accuracy-{cpu['isa_level']}")
    os.makedirs(out_dir, exist_ok=True)
    rows, targets = {}, {}
    for rnd in range(1, args.rounds + 1):
        for name in args.experiments.split(","):
            experiment = os.path.join(ROOT, "experiments", name + ".json")
            targets[name] = json.load(open(experiment))["expect"]["test_accuracy"]
            deepl = deepl_case(args.build, experiment, args.threads)
            pair = {"deepl": deepl, "python": python_case(experiment, args.threads, args.data, deepl["precision"])}
            rows[(name, rnd)] = pair
            print(json.dumps({"experiment": name, "round": rnd, **pair}), flush=True)
            with open(os.path.join(out_dir, "results.json"), "w") as f:
                json.dump({"machine": machine, "results": [{"experiment": e, "round": r, **p}
                                                           for (e, r), p in rows.items()]}, f, indent=1)
            with open(os.path.join(out_dir, "results.md"), "w") as f:
                f.write(results_markdown(machine, rows, targets))
    print(results_markdown(machine, rows, targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
