#!/usr/bin/python3
"""Loads a state dict deepl exported into the equivalent PyTorch model (strict) and prints the
predicted classes of an IDX image file, one per line.

    /usr/bin/python3 tests/interop/check_export.py MODEL.pth CONFIG.json MEAN STD IMAGES.idx
"""
import importlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from reference import build_model, read_idx  # noqa: E402


def main(weights, config, mean, std, images):
    # LibTorch's pickler tags typed dicts with torch.jit._pickle.restore_type_tag, which
    # torch.load's weights-only mode (the default from PyTorch 2.6) accepts once allowed.
    if hasattr(torch.serialization, "add_safe_globals"):
        tags = importlib.import_module("torch.jit._pickle")
        torch.serialization.add_safe_globals([tags.restore_type_tag])
    state = torch.load(weights)
    model = build_model(json.load(open(config))["model"])
    model.load_state_dict(state, strict=True)
    x = read_idx(images).unsqueeze(1).float().div(255).sub(float(mean)).div(float(std))
    with torch.no_grad():
        for c in model.eval()(x).argmax(1).tolist():
            print(c)


if __name__ == "__main__":
    main(*sys.argv[1:])
