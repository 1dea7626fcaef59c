#!/usr/bin/python3
"""PyTorch reference for Graft's fine-tuning demo (the README's main command), and its shipped assets.

Run from the repository root (needs Debian's python3-torch and dataset-fashion-mnist):
    /usr/bin/python3 tools/reference/finetune_demo.py [--seeds 0 1 2] [--assets]

Recipe (identical in Graft's `graft demo`):
  inputs (p/255 - 0.2860)/0.3530, 1x28x28; model smallcnn (features.0 Conv(1,16,3,p1), features.1 BN(16), ReLU,
  MaxPool(2), features.4 Conv(16,32,3,p1,no bias), features.5 BN(32), ReLU, MaxPool(2), flatten, fc1 Linear(1568,64),
  ReLU, head Linear(64,C)).
  Stage 1: smallcnn(5) on all Fashion-MNIST training images of classes 0-4, 2 epochs, batch 64, SGD lr 0.01,
           momentum 0.9, weight decay 1e-4, shuffled each epoch.
  Stage 2: classes 5-9 (labels 0-4), the first 100 training images of each class in file order; 20 epochs, batch 32,
           shuffled; SGD momentum 0.9, weight decay 1e-4:
             scratch          fresh smallcnn(5), lr 0.01
             feature-extract  stage-1 backbone frozen and BatchNorm in eval mode, new head, lr 0.01
             full             stage-1 weights, new head; backbone lr 0.001, head lr 0.01
  Test: all 5000 test images of classes 5-9.

--assets writes what `graft demo` ships (finetune/src/main/resources/io/graft/finetune/demo/): the stage-1 checkpoint
made by PyTorch (seed 0) as a torch.save .pth, the 500 training and 5000 test images of classes 5-9 as gzipped IDX
files, and reference.json with this script's accuracies per strategy and seed.
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"
ASSETS = os.path.join("finetune", "src", "main", "resources", "io", "graft", "finetune", "demo")
MEAN, STD = 0.2860, 0.3530


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = struct.unpack(">I", raw[:4])[0]
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def write_idx(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(header + arr.tobytes())


def smallcnn(c):
    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                          nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1, bias=False),
                                          nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
            self.fc1 = nn.Linear(1568, 64)
            self.relu = nn.ReLU()
            self.head = nn.Linear(64, c)

        def forward(self, x):
            return self.head(self.relu(self.fc1(torch.flatten(self.features(x), 1))))

    return SmallCNN()


def tensor(images):
    return (torch.from_numpy(images.astype(np.float32)) / 255.0 - MEAN).div(STD).unsqueeze(1)


def train(model, opt, x, y, epochs, batch, gen, frozen_bn=False):
    n = x.shape[0]
    for _ in range(epochs):
        model.train()
        if frozen_bn:
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            idx_ = perm[i:i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx_]), y[idx_])
            loss.backward()
            opt.step()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = 0
        for i in range(0, x.shape[0], 500):
            correct += (model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum().item()
    return 100.0 * correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--assets", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tr_x, tr_y = idx(f"{DATA}/train-images-idx3-ubyte.gz"), idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    te_x, te_y = idx(f"{DATA}/t10k-images-idx3-ubyte.gz"), idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    s1 = tr_y < 5
    x1, y1 = tensor(tr_x[s1]), torch.from_numpy(tr_y[s1].astype(np.int64))
    few = np.concatenate([np.nonzero(tr_y == c)[0][:100] for c in range(5, 10)])
    few.sort()
    x2, y2 = tensor(tr_x[few]), torch.from_numpy(tr_y[few].astype(np.int64) - 5)
    t2 = te_y >= 5
    xt, yt = tensor(te_x[t2]), torch.from_numpy(te_y[t2].astype(np.int64) - 5)

    results = {"scratch": [], "feature-extract": [], "full": []}
    times = {k: [] for k in results}
    # stage 1 once (seed 0): its checkpoint is what `graft demo` ships, so both frameworks start stage 2 from the
    # same weights and only the stage-2 seeds vary
    torch.manual_seed(0)
    pre = smallcnn(5)
    opt = torch.optim.SGD(pre.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    t0 = time.time()
    train(pre, opt, x1, y1, 2, 64, torch.Generator().manual_seed(0))
    stage1_acc = accuracy(pre, tensor(te_x[te_y < 5]), torch.from_numpy(te_y[te_y < 5].astype(np.int64)))
    print(f"stage 1: {time.time() - t0:.1f}s, test acc (classes 0-4) {stage1_acc:.2f}")
    if args.assets:
        os.makedirs(ASSETS, exist_ok=True)
        torch.save(pre.state_dict(), os.path.join(ASSETS, "smallcnn_fmnist_0-4.pth"))
    state = {k: v.clone() for k, v in pre.state_dict().items()}
    for seed in args.seeds:
        for strategy in results:
            torch.manual_seed(1000 + seed)
            m = smallcnn(5)
            if strategy != "scratch":
                sd = {k: v for k, v in state.items() if not k.startswith("head.")}
                missing = m.load_state_dict(sd, strict=False)
                assert missing.missing_keys == ["head.weight", "head.bias"], missing
            head = list(m.head.parameters())
            body = [p for n, p in m.named_parameters() if not n.startswith("head.")]
            if strategy == "scratch":
                opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
            elif strategy == "feature-extract":
                for p in body:
                    p.requires_grad_(False)
                opt = torch.optim.SGD(head, lr=0.01, momentum=0.9, weight_decay=1e-4)
            else:
                opt = torch.optim.SGD([{"params": body, "lr": 0.001}, {"params": head, "lr": 0.01}], lr=0.01,
                                      momentum=0.9, weight_decay=1e-4)
            t0 = time.time()
            train(m, opt, x2, y2, 20, 32, torch.Generator().manual_seed(seed),
                  frozen_bn=strategy == "feature-extract")
            times[strategy].append(time.time() - t0)
            results[strategy].append(accuracy(m, xt, yt))
            print(f"seed {seed} {strategy:16s} test acc {results[strategy][-1]:.2f} ({times[strategy][-1]:.1f}s)")
    summary = {k: {"mean": float(np.mean(v)), "runs": v, "seconds_mean": float(np.mean(times[k]))}
               for k, v in results.items()}
    report = {"generator": "tools/reference/finetune_demo.py", "torch": torch.__version__, "threads": 2,
              "seeds": args.seeds, "stage1_seed": 0, "stage1_test_accuracy_classes_0_4": stage1_acc, "strategies": summary}
    print(json.dumps(report, indent=1))
    if args.assets:
        write_idx(os.path.join(ASSETS, "train-images-idx3-ubyte.gz"), tr_x[few])
        write_idx(os.path.join(ASSETS, "train-labels-idx1-ubyte.gz"), tr_y[few])
        write_idx(os.path.join(ASSETS, "t10k-images-idx3-ubyte.gz"), te_x[t2])
        write_idx(os.path.join(ASSETS, "t10k-labels-idx1-ubyte.gz"), te_y[t2])
        with open(os.path.join(ASSETS, "reference.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
