#!/usr/bin/python3
"""Checks an ONNX file deepl exported with ONNX's own tools.

    check_onnx.py MODEL.onnx [EXPECTED.pth]

1. onnx.checker.check_model(model, full_check=True): the structure, the operators' schemas at the
   model's opset, and strict shape inference.
2. With EXPECTED.pth (written by deepl's test: {"input": x, "logits": y}), runs the model on x with
   an ONNX runtime deepl's authors did not write: onnxruntime (Debian 13), else onnx.reference's
   evaluator (onnx >= 1.13), and requires |logits - y| <= 1e-4.
   Debian 12's onnx 1.12 has neither; the script says so and checks the structure alone.
Prints one line per check; exits 1 on the first failure.
"""
import sys

import numpy as np
import onnx


def runtime(model_path, model):
    """onnxruntime where installed (Debian 13), else onnx.reference's evaluator (onnx >= 1.13), else None.
    onnx.reference 1.17 gives other logits than both deepl and onnxruntime 1.21 for graphs with
    BatchNormalization (up to 0.45 on a ResNet, where onnxruntime agrees with deepl within 1e-6),
    so onnxruntime is the one that counts when both are here."""
    try:
        import onnxruntime
        session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        return f"onnxruntime {onnxruntime.__version__}", lambda x: session.run(None, {"input": x})[0]
    except ImportError:
        pass
    try:
        from onnx.reference import ReferenceEvaluator
        return f"onnx.reference {onnx.__version__}", lambda x: ReferenceEvaluator(model).run(None, {"input": x})[0]
    except ImportError:
        return None


def main():
    path = sys.argv[1]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    print(f"{path}: onnx {onnx.__version__} checker (full_check) accepts it: IR {model.ir_version}, "
          f"opset {model.opset_import[0].version}, {len(model.graph.node)} nodes")
    if len(sys.argv) < 3:
        return 0
    import torch
    expected = torch.load(sys.argv[2], weights_only=False)  # written by the test itself
    x = expected["input"].numpy().astype(np.float32)
    y = expected["logits"].numpy()
    found = runtime(path, model)
    if found is None:
        print(f"{path}: no ONNX runtime here (onnx {onnx.__version__} has no onnx.reference, no onnxruntime); "
              "structure checked only")
        return 0
    name, run = found
    got = run(x)
    worst = float(np.abs(got - y).max())
    if got.shape != y.shape or worst > 1e-4:
        print(f"{path}: {name}: logits {got.shape} differ from deepl's {y.shape} by up to {worst:.3g}")
        return 1
    print(f"{path}: {name} gives deepl's logits within {worst:.2g} on {x.shape[0]} inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
