#!/usr/bin/python3
"""A small ImageFolder from Fashion-MNIST, for the per-family `graft finetune` runs (docs/finetune.md).

Reads the Debian IDX files (dataset-fashion-mnist: /usr/share/datasets/fashion-mnist) and writes 28x28 grayscale PNGs
to OUT/{train,val,test}/<class>/NNNNN.png: the first --train + --val images of each chosen class in the training file
(in file order: the first --train to train/, the next --val to val/) and the first --test of each class in the test
file. Deterministic: the same arguments give the same files.

  /usr/bin/python3 tools/finetune_runs/make_fashion_imagefolder.py OUT [--classes 0,1,2,3,4] [--train 60 --val 20 --test 20]
"""
import argparse
import gzip
import os

import numpy as np
from PIL import Image

NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write(images, labels, classes, counts, out):
    for c in classes:
        (where,) = np.nonzero(labels == c)
        start = 0
        for split, n in counts:
            if n > len(where) - start:
                raise SystemExit(f"class {c}: only {len(where)} images, asked for {start + n}")
            folder = os.path.join(out, split, f"{c}-{NAMES[c]}")
            os.makedirs(folder, exist_ok=True)
            for i in where[start:start + n]:
                Image.fromarray(images[i], mode="L").save(os.path.join(folder, f"{i:05d}.png"), optimize=True)
            start += n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--classes", default="0,1,2,3,4")
    p.add_argument("--train", type=int, default=60)
    p.add_argument("--val", type=int, default=20)
    p.add_argument("--test", type=int, default=20)
    a = p.parse_args()
    classes = [int(c) for c in a.classes.split(",")]
    if os.path.exists(a.out) and os.listdir(a.out):
        raise SystemExit(f"{a.out} exists and is not empty")
    tr_x = idx(os.path.join(a.source, "train-images-idx3-ubyte.gz"))
    tr_y = idx(os.path.join(a.source, "train-labels-idx1-ubyte.gz"))
    te_x = idx(os.path.join(a.source, "t10k-images-idx3-ubyte.gz"))
    te_y = idx(os.path.join(a.source, "t10k-labels-idx1-ubyte.gz"))
    write(tr_x, tr_y, classes, [("train", a.train), ("val", a.val)], a.out)
    write(te_x, te_y, classes, [("test", a.test)], a.out)
    print(f"wrote {a.out}: classes {[f'{c}-{NAMES[c]}' for c in classes]}, "
          f"{a.train}/{a.val}/{a.test} train/val/test images per class")


if __name__ == "__main__":
    main()
