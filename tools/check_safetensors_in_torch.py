#!/usr/bin/python3
"""Checks that a .safetensors file written by Graft loads into torchvision with load_state_dict(strict=True).

Usage:  /usr/bin/python3 tools/check_safetensors_in_torch.py FILE MODEL NUM_CLASSES [LOGITS_FILE]
e.g.    java -jar finetune/target/graft.jar convert zoo/src/test/resources/fixtures/zoo/resnet18.pth /tmp/r18.safetensors
        /usr/bin/python3 tools/check_safetensors_in_torch.py /tmp/r18.safetensors resnet18 10 \
            zoo/src/test/resources/fixtures/zoo/resnet18.logits.safetensors
Reads the file with a standalone reader (no Graft code), loads it strictly, and when given the fixture's logits
file compares eval-mode logits on the fixture input (zoo/.../input.safetensors).
"""
import json
import os
import struct
import sys

import torch
import torchvision.models as tvm

DT = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
      "BOOL": torch.bool}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DT[v["dtype"]]) if b > a else torch.empty(0, dtype=DT[
            v["dtype"]])
        out[k] = t.reshape(v["shape"])
    return out


def main():
    path, model, classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sd = load(path)
    if model == "smallcnn":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
        from finetune_demo import smallcnn
        m = smallcnn(classes)
    else:
        m = getattr(tvm, model)(num_classes=classes)
    result = m.load_state_dict(sd, strict=True)
    print(f"{path}: load_state_dict(strict=True) into torchvision {model}: {result}")
    if len(sys.argv) > 4:
        here = os.path.dirname(sys.argv[4])
        x = load(os.path.join(here, "input.safetensors"))["x"]
        expected = load(sys.argv[4])["logits"]
        m.eval()
        with torch.no_grad():
            diff = (m(x) - expected).abs().max().item()
        print(f"eval logits vs fixture: max abs diff {diff:.2e}")


if __name__ == "__main__":
    main()
