#!/usr/bin/python3
"""Python PyTorch reference for deepl's benchmark: the same model, batch size, optimizer, data and
thread count as deepl_bench, written the way the notebooks do it (whole data set in memory, a
per-batch gather and normalise, per-batch .item() in evaluation).

    /usr/bin/python3 bench/reference.py --config experiments/cnn_mnist.json --threads 2 --steps 200

Prints one JSON line with the same fields as `deepl_bench --json`.
"""
import argparse
import gzip
import json
import os
import resource
import sys
import time

import numpy as np
import torch
from torch import nn

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")}


def read_idx(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                data = f.read()
            ndims = data[3]
            dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndims)]
            return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims).copy())
    raise FileNotFoundError(path)


def activation(name):
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[name]()


def build_model(model, channels=1, size=28, classes=10):
    """deepl's mlp / cnn as nn.Sequential, with the same layer indices (so state dicts match)."""
    if model["type"] == "mlp":
        layers, width = [nn.Flatten()], channels * size * size
        dropout = model.get("dropout", 0.0)
        hidden = model.get("hidden", [128])
        for i, h in enumerate(hidden):
            p = dropout[i] if isinstance(dropout, list) else dropout
            layers += [nn.Linear(width, h), activation(model.get("activation", "relu"))]
            if p > 0:
                layers.append(nn.Dropout(p))
            width = h
        layers.append(nn.Linear(width, classes))
        return nn.Sequential(*layers)
    features, c, h = [], channels, size
    for block in model["blocks"]:
        for conv in block["convs"]:
            k, s, p = conv.get("kernel_size", 3), conv.get("stride", 1), conv.get("padding", 0)
            features.append(nn.Conv2d(c, conv["out_channels"], k, stride=s, padding=p))
            if block.get("batch_norm", False):
                features.append(nn.BatchNorm2d(conv["out_channels"]))
            features.append(activation(block.get("activation", "relu")))
            c, h = conv["out_channels"], (h + 2 * p - k) // s + 1
        pool = block.get("pool", 2)
        if pool > 0:
            features.append(nn.MaxPool2d(pool) if block.get("pool_type", "max") == "max" else nn.AvgPool2d(pool))
            h //= pool
        if block.get("dropout", 0.0) > 0:
            features.append(nn.Dropout(block["dropout"]))
    classifier, width, p = [nn.Flatten()], c * h * h, model.get("dropout", 0.0)
    if p > 0:
        classifier.append(nn.Dropout(p))
    for units in model.get("hidden", []):
        classifier += [nn.Linear(width, units), activation(model.get("activation", "relu"))]
        if p > 0:
            classifier.append(nn.Dropout(p))
        width = units
    classifier.append(nn.Linear(width, classes))
    net = nn.Sequential()
    net.add_module("features", nn.Sequential(*features))
    net.add_module("classifier", nn.Sequential(*classifier))
    return net


def make_optimizer(cfg, params):
    o = cfg.get("optimizer", {})
    kind, lr = o.get("type", "adam"), o.get("lr", 1e-3)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=o.get("momentum", 0.0), nesterov=o.get("nesterov", False))
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, weight_decay=o.get("weight_decay", 0.0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--eval-examples", type=int, default=10000)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--data", default=os.environ.get("DEEPL_DATA", "data"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(args.config))
    data_cfg = cfg.get("data", {})
    folder = os.path.join(args.data, data_cfg.get("dataset", "mnist"))
    images = read_idx(os.path.join(folder, FILES["train"][0]))
    labels = read_idx(os.path.join(folder, FILES["train"][1])).long()
    mean, std = images.float().div(255).mean().item(), images.float().div(255).std().item()
    batch = data_cfg.get("batch_size", 64)
    model = build_model(cfg["model"])
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = make_optimizer(cfg, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(images.shape[0])

    def gather(i, size):
        idx = order[(i * size) % (images.shape[0] - size):][:size]
        x = images[idx].unsqueeze(1).float().div_(255).sub_(mean).div_(std)
        return x.contiguous(memory_format=memory_format), labels[idx]

    def train_step(i):
        x, y = gather(i, batch)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            out = model(x)
        loss = loss_fn(out.float(), y)
        loss.backward()
        optimizer.step()
        return loss

    model.train()
    for i in range(args.warmup):
        train_step(i)
    start = time.perf_counter()
    for i in range(args.steps):
        train_step(args.warmup + i)
    train_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(args.steps):
        gather(i, batch)
    data_seconds = time.perf_counter() - start

    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(args.eval_examples // batch):
            x, y = gather(i, batch)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                out = model(x)
            loss_sum += loss_fn(out.float(), y).item()
            correct += (out.argmax(1) == y).sum().item()
            total += y.shape[0]
    eval_seconds = time.perf_counter() - start

    train_examples = images.shape[0] * (1 - data_cfg.get("val_fraction", 0.1))
    result = {
        "impl": "python",
        "model": cfg["name"],
        "threads": torch.get_num_threads(),
        "precision": args.precision + ("+cl" if args.channels_last else ""),
        "batch": batch,
        "train_examples_per_s": args.steps * batch / train_seconds,
        "eval_examples_per_s": total / eval_seconds,
        "epoch_seconds": train_examples / (args.steps * batch / train_seconds),
        "data_fraction": data_seconds / train_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
