#!/usr/bin/python3
"""A network designed in Python, trained by deepl, and back (model.type "torchscript").

    torchscript_cnn.py script OUT.pt           # torch.jit.script of a two-branch CNN, saved
    torchscript_cnn.py accuracy MODULE.pt DIR  # test accuracy of a saved module on DIR's MNIST test set
    torchscript_cnn.py train MODULE.pt DIR     # deepl's recipe in PyTorch: Adam 1e-3, batch 64, 2 epochs,
                                               # on all 60,000 training pictures; prints the test accuracy

Inputs are normalised as deepl's loader does with data.normalize "fixed", mean 0.1307, std 0.3081.
"""
import sys

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.1307, 0.3081


class TwoBranchCnn(nn.Module):
    """Convolutions on one branch, a coarse average-pooled view of the picture on the other, summed."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10))
        self.coarse = nn.Sequential(nn.AvgPool2d(4), nn.Flatten(), nn.Linear(49, 10))

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return self.classifier(self.features(x)) + self.coarse(x)


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def accuracy(module_path, folder):
    model = torch.jit.load(module_path)
    model.eval()
    images = read_idx(f"{folder}/t10k-images-idx3-ubyte")
    labels = torch.from_numpy(read_idx(f"{folder}/t10k-labels-idx1-ubyte").astype(np.int64))
    x = (torch.from_numpy(images.astype(np.float32)).unsqueeze(1) / 255.0 - MEAN) / STD
    with torch.no_grad():
        predicted = torch.cat([model(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    return (predicted == labels).double().mean().item()


def train(module_path, folder, epochs=2):
    torch.manual_seed(0)
    model = torch.jit.load(module_path)
    images = read_idx(f"{folder}/train-images-idx3-ubyte")
    labels = torch.from_numpy(read_idx(f"{folder}/train-labels-idx1-ubyte").astype(np.int64))
    x = (torch.from_numpy(images.astype(np.float32)).unsqueeze(1) / 255.0 - MEAN) / STD
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            batch = order[i:i + 64]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), labels[batch]).backward()
            optimizer.step()
    model.save(module_path + ".python-trained.pt")
    return accuracy(module_path + ".python-trained.pt", folder)


def main():
    if sys.argv[1] == "script":
        torch.manual_seed(0)
        torch.jit.script(TwoBranchCnn()).save(sys.argv[2])
    elif sys.argv[1] == "train":
        print(f"accuracy {train(sys.argv[2], sys.argv[3]):.6f}")
    else:
        print(f"accuracy {accuracy(sys.argv[2], sys.argv[3]):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
