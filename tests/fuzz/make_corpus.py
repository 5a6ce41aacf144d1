#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora under tests/fuzz/corpus/<target>/: small valid inputs of
each format (and a few near misses). Needs Debian's python3-torch for the .pth files and a built
`deepl` (argv[1]) for the deepl checkpoint. Run: tests/fuzz/make_corpus.py build/apps/deepl"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections import OrderedDict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def idx(type_code, fmt, dims, values):
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + b"".join(struct.pack(">" + fmt, v) for v in values)


def idx_corpus():
    images = idx(0x08, "B", [3, 4, 4], [(i * 37) % 256 for i in range(48)])
    labels = idx(0x08, "B", [3], [1, 7, 3])
    out("idx", "images_u8", images)
    out("idx", "labels_u8", labels)
    out("idx", "images_u8.gz", gzip.compress(images, mtime=0))
    out("idx", "labels_u8.gz", gzip.compress(labels, mtime=0))
    out("idx", "floats_f32", idx(0x0D, "f", [2, 3], [0.5, -1.0, 2.0, 3.25, 0.0, 1e-3]))
    out("idx", "doubles_f64", idx(0x0E, "d", [2], [1.5, -2.5]))
    out("idx", "ints_i32", idx(0x0C, "i", [2, 2], [1, -2, 3, -4]))
    out("idx", "shorts_i16", idx(0x0B, "h", [3], [1, -2, 300]))
    out("idx", "sbytes_i8", idx(0x09, "b", [2], [-1, 5]))


def config_corpus():
    os.makedirs(os.path.join(CORPUS, "config"), exist_ok=True)
    for name in ["mlp_mnist", "cnn_mnist", "fashion_cnn", "fashion_vgg16", "mnist_best", "fashion_best"]:
        shutil.copy(os.path.join(ROOT, "experiments", name + ".json"), os.path.join(CORPUS, "config", name + ".json"))
    out("config", "minimal.json", json.dumps({"name": "x", "model": {"type": "mlp", "hidden": [8]}}).encode())
    out("config", "everything.json", json.dumps({
        "name": "x", "seed": 3, "threads": 1,
        "data": {"dataset": "fashion-mnist", "val_fraction": 0.2, "normalize": "fixed", "mean": [0.5], "std": [0.25],
                 "batch_size": 32, "random_crop": 2, "hflip": True},
        "model": {"type": "cnn", "blocks": [{"convs": [{"out_channels": 4, "padding": 1}], "batch_norm": True}],
                  "hidden": [16], "dropout": 0.1},
        "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        "scheduler": {"type": "plateau", "patience": 1},
        "train": {"epochs": 2, "early_stopping": {"monitor": "val_loss", "patience": 2}, "precision": "bf16"},
        "distributed": {"timeout_seconds": 30}}).encode())


def csv_corpus():
    out("csv", "xy.csv", b"x,y\n0,1\n1,3.5\n2,6\n")
    out("csv", "three.csv", b"x1,x2,y\n-1.5,2e-3,0\n 4 , 5 ,1\n")
    out("csv", "crlf.csv", b"a,b\r\n1,2\r\n")


def pth_corpus():
    tiny = OrderedDict([("fc.weight", torch.arange(6, dtype=torch.float32).view(2, 3)),
                        ("fc.bias", torch.tensor([0.5, -0.5])),
                        ("bn.num_batches_tracked", torch.tensor(3))])
    with tempfile.TemporaryDirectory() as tmp:
        for name, legacy in [("zip.pth", False), ("legacy.pth", True)]:
            path = os.path.join(tmp, name)
            torch.save(tiny, path, _use_new_zipfile_serialization=not legacy)
            with open(path, "rb") as f:
                out("pytorch_file", name, f.read())
        path = os.path.join(tmp, "nested.pth")
        torch.save({"state_dict": {"w": torch.ones(2, dtype=torch.float64)[1:]}}, path)
        with open(path, "rb") as f:
            out("pytorch_file", "nested_view.pth", f.read())


def checkpoint_corpus(deepl):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "mnist")
        os.makedirs(data)
        images = idx(0x08, "B", [40, 28, 28], [(i * 7) % 256 for i in range(40 * 784)])
        labels = idx(0x08, "B", [40], [i % 10 for i in range(40)])
        for split in ["train", "t10k"]:
            with open(os.path.join(data, split + "-images-idx3-ubyte"), "wb") as f:
                f.write(images)
            with open(os.path.join(data, split + "-labels-idx1-ubyte"), "wb") as f:
                f.write(labels)
        config = os.path.join(tmp, "tiny.json")
        with open(config, "w") as f:
            json.dump({"name": "tiny", "data": {"root": tmp, "val_fraction": 0.25, "batch_size": 10},
                       "model": {"type": "mlp", "hidden": [2]}, "optimizer": {"type": "sgd", "lr": 0.1,
                                                                                "momentum": 0.5},
                       "train": {"epochs": 1}, "output": {"dir": os.path.join(tmp, "runs")}}, f)
        subprocess.run([deepl, "train", "--quiet", "--config", config], check=True)
        with open(os.path.join(tmp, "runs", "tiny", "checkpoints", "last.pt"), "rb") as f:
            out("checkpoint", "mlp_sgd.pt", f.read())


if __name__ == "__main__":
    idx_corpus()
    config_corpus()
    csv_corpus()
    pth_corpus()
    checkpoint_corpus(sys.argv[1])
