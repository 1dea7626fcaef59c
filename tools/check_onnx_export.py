#!/usr/bin/python3
"""Checks ONNX files written by `graft export` with ONNX's own checker (full_check=True: the graph's structure,
every operator against its opset schema, and strict shape inference), and prints what each file declares.

Usage:  /usr/bin/python3 tools/check_onnx_export.py FILE.onnx [FILE.onnx ...]
        /usr/bin/python3 tools/check_onnx_export.py --all-zoo OUTDIR [NUM_CLASSES]
The second form writes random torchvision-layout weights (a NUM_CLASSES-class head, default 7) for every zoo
architecture to OUTDIR, exports each with `graft export` (GRAFT: the command to run, default `graft`) and checks
the exports. Exits non-zero when any file fails. Uses Debian's python3-onnx (1.12: opsets up to 17); Graft's
tests never run it.
"""
import collections
import os
import shlex
import subprocess
import sys

import onnx
import onnx.checker
import onnx.shape_inference

ZOO = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
       "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "mobilenet_v2", "smallcnn"]
ZOO += ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "mobilenet_v3_large",
        "mobilenet_v3_small", "regnet_y_400mf", "regnet_y_800mf"]


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def check(path):
    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # the checker raises ValidationError or InferenceError
        print(f"FAIL {path}: {type(e).__name__}: {e}")
        return False
    g = model.graph
    ops = collections.Counter(n.op_type for n in g.node)
    opset = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    print(f"ok   {path}: ir {model.ir_version}, opset {opset}, {g.input[0].name} {dims(g.input[0])} -> "
          f"{g.output[0].name} {dims(g.output[0])}, {len(g.initializer)} initializers, ops {dict(sorted(ops.items()))}")
    return True


def random_weights(name, classes, path):
    import torch
    import torchvision.models as tvm
    torch.manual_seed(0)
    if name == "smallcnn":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
        from finetune_demo import smallcnn
        model = smallcnn(classes)
    else:
        model = getattr(tvm, name)(num_classes=classes)
    torch.save(model.state_dict(), path)


def all_zoo(out, classes):
    graft = shlex.split(os.environ.get("GRAFT", "graft"))
    os.makedirs(out, exist_ok=True)
    ok = True
    for name in ZOO:
        weights = os.path.join(out, name + ".pth")
        onnx_path = os.path.join(out, name + ".onnx")
        random_weights(name, classes, weights)
        size = "28" if name == "smallcnn" else "224"
        subprocess.run(graft + ["export", "--model", name, "--weights", weights, "--onnx", onnx_path,
                                "--image-size", size], check=True)
        ok = check(onnx_path) and ok
        os.remove(weights)
    return ok


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    if argv[0] == "--all-zoo":
        return 0 if all_zoo(argv[1], int(argv[2]) if len(argv) > 2 else 7) else 1
    results = [check(p) for p in argv]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
