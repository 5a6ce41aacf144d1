#!/usr/bin/python3
"""Writes the interop fixtures the C++ tests read: torchvision VGG weights in every format torch.save
has (zip OrderedDict, legacy pre-1.6, plain dict, nested under "state_dict"), their logits on a fixed
input, and files that must be refused (a pickle calling os.system, truncated archives).

    /usr/bin/python3 tests/interop/make_fixtures.py OUT_DIR
"""
import collections
import io
import os
import pickle
import sys

import torch
import torchvision


def save_logits(model, path, size=32):
    torch.manual_seed(1)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        y = model.eval()(x)
    torch.save({"input": x, "logits": y}, path)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/deepl-pwned",))


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    vgg16 = torchvision.models.vgg16(weights=None)
    sd = vgg16.state_dict()
    torch.save(sd, os.path.join(out, "vgg16_zip.pth"))
    torch.save(sd, os.path.join(out, "vgg16_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(dict(sd), os.path.join(out, "vgg16_dict.pth"))
    save_logits(vgg16, os.path.join(out, "vgg16_logits.pt"))

    torch.manual_seed(0)
    vgg16_bn = torchvision.models.vgg16_bn(weights=None)
    # Non-trivial running statistics, so eval-mode batch norm is really exercised.
    for m in vgg16_bn.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    torch.save({"state_dict": vgg16_bn.state_dict(), "epoch": 3}, os.path.join(out, "vgg16_bn_nested.pth"))
    save_logits(vgg16_bn, os.path.join(out, "vgg16_bn_logits.pt"))

    # A small state dict with views and shared storage, in both formats.
    base = torch.arange(24, dtype=torch.float64)
    views = collections.OrderedDict(a=base[2:8].view(2, 3), b=base.view(4, 6).t(), c=base,
                                    h=torch.tensor([1.5, -2.0], dtype=torch.float16),
                                    i=torch.tensor([7, -9], dtype=torch.int64), u=torch.tensor([3, 250], dtype=torch.uint8),
                                    flag=torch.tensor([True, False]))
    torch.save(views, os.path.join(out, "views_zip.pth"))
    torch.save(views, os.path.join(out, "views_legacy.pth"), _use_new_zipfile_serialization=False)

    with open(os.path.join(out, "evil.pth"), "wb") as f:
        pickle.dump(collections.OrderedDict(weight=Evil()), f, protocol=2)
    buf = io.BytesIO()
    torch.save({"weight": torch.ones(3), "payload": Evil()}, buf)
    with open(os.path.join(out, "evil_zip.pth"), "wb") as f:
        f.write(buf.getvalue())
    for name in ("views_zip.pth", "views_legacy.pth"):
        data = open(os.path.join(out, name), "rb").read()
        with open(os.path.join(out, "truncated_" + name), "wb") as f:
            f.write(data[: len(data) * 2 // 3])


if __name__ == "__main__":
    main(sys.argv[1])
