#!/usr/bin/python3
"""Python PyTorch reference for deepl's benchmark: the same model, batch size, optimizer, data and
thread count as deepl_bench. Training keeps the whole data set in memory with a per-batch gather
and normalise (the fastest plain-PyTorch way). Evaluation is timed twice: the notebooks' loop
(a torchvision-style Dataset turning each image into a PIL image, ToTensor and Normalize, batched
by a DataLoader, `.item()` per batch) and the same in-memory gather as training.

    /usr/bin/python3 bench/reference.py --config experiments/cnn_mnist.json --threads 2 --steps 200
    /usr/bin/python3 bench/reference.py --config experiments/fashion_vgg16.json --set model.freeze=0 --steps 8

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
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

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


def apply_override(cfg, assignment):
    """deepl's --set key.path=value: the value is JSON when it parses, else a string."""
    path, value = assignment.split("=", 1)
    try:
        value = json.loads(value)
    except ValueError:
        pass
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


class InputAdapter(nn.Module):
    """deepl's VGG input adapter: 1 -> 3 channels, bilinear resize, ImageNet mean/std."""

    def __init__(self, size):
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.size:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def build_vgg(model, classes):
    """torchvision's VGG (random weights: speed does not depend on them) with deepl's new head."""
    import torchvision
    net = getattr(torchvision.models, f"vgg{model.get('depth', 16)}" + ("_bn" if model.get("batch_norm") else ""))()
    head, width, p = [], 512 * 7 * 7, model.get("dropout", 0.5)
    for units in model.get("hidden", [4096, 4096]):
        head += [nn.Linear(width, units), nn.ReLU(True), nn.Dropout(p)]
        width = units
    net.classifier = nn.Sequential(*head, nn.Linear(width, classes))
    freeze, blocks = model.get("freeze", 0), 0
    for layer in net.features:
        if freeze == 0 or (freeze > 0 and blocks >= freeze):
            break
        for param in layer.parameters():
            param.requires_grad_(False)
        blocks += isinstance(layer, nn.MaxPool2d)
    size = model.get("input_size", 0)
    return nn.Sequential(InputAdapter(size), net) if size > 0 else net


class BasicBlock(nn.Module):
    """deepl's resnet block: torchvision's BasicBlock, or its pre-activation form (bn1/bn2 in front)."""

    def __init__(self, cin, cout, stride, preact):
        super().__init__()
        self.preact = preact
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cin if preact else cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            shortcut = [nn.Conv2d(cin, cout, 1, stride, bias=False)]
            self.downsample = nn.Sequential(*(shortcut if preact else shortcut + [nn.BatchNorm2d(cout)]))

    def forward(self, x):
        if self.preact:
            a = torch.relu(self.bn1(x))
            shortcut = self.downsample(a) if self.downsample is not None else x
            return self.conv2(torch.relu(self.bn2(self.conv1(a)))) + shortcut
        shortcut = self.downsample(x) if self.downsample is not None else x
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + shortcut)


def build_resnet(model, channels, classes):
    """deepl's resnet with its defaults (include/deepl/models/resnet.h); same parameter names."""
    stem = model.get("stem_channels", 32)
    kernel, preact = model.get("stem_kernel_size", 3), model.get("preact", False)
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(channels, stem, kernel, model.get("stem_stride", 1), kernel // 2, bias=False))
    if not preact:
        net.add_module("bn1", nn.BatchNorm2d(stem))
        net.add_module("relu", nn.ReLU())
    if model.get("stem_pool", False):
        net.add_module("maxpool", nn.MaxPool2d(3, 2, 1))
    c = stem
    widths = model.get("widths", [32, 64, 128])
    for s, (n, width, stride) in enumerate(zip(model.get("blocks", [2, 2, 2]), widths, model.get("strides", [1, 2, 2]))):
        blocks = []
        for b in range(n):
            blocks.append(BasicBlock(c, width, stride if b == 0 else 1, preact))
            c = width
        net.add_module(f"layer{s + 1}", nn.Sequential(*blocks))
    if preact:
        net.add_module("norm", nn.BatchNorm2d(c))
        net.add_module("norm_relu", nn.ReLU())
    net.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
    net.add_module("flatten", nn.Flatten())
    if model.get("dropout", 0.0) > 0:
        net.add_module("dropout", nn.Dropout(model["dropout"]))
    net.add_module("fc", nn.Linear(c, classes))
    return net


def build_model(model, channels=1, size=28, classes=10):
    """deepl's mlp / cnn / resnet in PyTorch, with the same parameter names (so state dicts match)."""
    if model["type"] == "vgg":
        return build_vgg(model, classes)
    if model["type"] == "resnet":
        return build_resnet(model, channels, classes)
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


class NotebookDataset(Dataset):
    """torchvision.datasets.MNIST's __getitem__: a uint8 image becomes a PIL image, then transformed."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i].numpy(), mode="L")), int(self.labels[i])


def evaluate(model, batches, loss_fn, bf16, memory_format):
    """The notebooks' evaluation loop; returns examples per second."""
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    start = time.perf_counter()
    with torch.no_grad():
        for x, y in batches:
            x = x.contiguous(memory_format=memory_format)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(x)
            loss_sum += loss_fn(out.float(), y).item()
            _, predicted = torch.max(out, 1)
            correct += (predicted == y).sum().item()
            total += y.shape[0]
    return total / (time.perf_counter() - start)


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
    ap.add_argument("--set", action="append", default=[], help="override a config key, as in deepl train")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = json.load(open(args.config))
    for assignment in args.set:
        apply_override(cfg, assignment)
    data_cfg = cfg.get("data", {})
    folder = os.path.join(args.data, data_cfg.get("dataset", "mnist"))
    images = read_idx(os.path.join(folder, FILES["train"][0]))
    labels = read_idx(os.path.join(folder, FILES["train"][1])).long()
    mean, std = images.float().div(255).mean().item(), images.float().div(255).std().item()
    if data_cfg.get("normalize", "train") == "none":
        mean, std = 0.0, 1.0
    batch = data_cfg.get("batch_size", 64)
    model = build_model(cfg["model"])
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = make_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
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

    bf16 = args.precision == "bf16"
    in_memory = (gather(i, batch) for i in range(args.eval_examples // batch))
    eval_in_memory = evaluate(model, in_memory, loss_fn, bf16, memory_format)
    from torchvision import transforms
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    n = args.eval_examples // batch * batch
    notebook = DataLoader(NotebookDataset(images[:n], labels[:n], transform), batch_size=batch, shuffle=False)
    eval_notebook = evaluate(model, notebook, loss_fn, bf16, memory_format)

    train_examples = images.shape[0] * (1 - data_cfg.get("val_fraction", 0.1))
    result = {
        "impl": "python",
        "model": cfg["name"],
        "threads": torch.get_num_threads(),
        "precision": args.precision + ("+cl" if args.channels_last else ""),
        "batch": batch,
        "train_examples_per_s": args.steps * batch / train_seconds,
        "eval_examples_per_s": eval_notebook,
        "eval_in_memory_examples_per_s": eval_in_memory,
        "epoch_seconds": train_examples / (args.steps * batch / train_seconds),
        "data_fraction": data_seconds / train_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
