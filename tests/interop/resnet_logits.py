#!/usr/bin/python3
"""Loads deepl resnet weights into a PyTorch model with strict=True and writes its eval-mode logits.

    /usr/bin/python3 tests/interop/resnet_logits.py WEIGHTS.pth MODEL.json INPUTS.pth OUT.pth [torchvision]

MODEL.json is deepl's `model` section and the model is bench/reference.py's build_resnet; with
`torchvision` it is torchvision.models.resnet18 instead. INPUTS.pth holds {"x": images};
OUT.pth gets {"logits": ...}.
"""
import importlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from reference import build_model  # noqa: E402


def load(path):
    if hasattr(torch.serialization, "add_safe_globals"):  # see check_export.py
        torch.serialization.add_safe_globals([importlib.import_module("torch.jit._pickle").restore_type_tag])
    return torch.load(path)


def main(weights, model_json, inputs, out, kind="deepl"):
    x = load(inputs)["x"]
    if kind == "torchvision":
        import torchvision
        model = torchvision.models.resnet18(num_classes=1000)
    else:
        model = build_model(json.load(open(model_json)), channels=x.shape[1], classes=10)
    model.load_state_dict(load(weights), strict=True)
    with torch.no_grad():
        torch.save({"logits": model.eval()(x)}, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
