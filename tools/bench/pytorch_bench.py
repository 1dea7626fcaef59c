#!/usr/bin/python3
"""Times Graft's benchmark workloads in PyTorch on the same machine (see docs/benchmarks.md).

    /usr/bin/python3 tools/bench/pytorch_bench.py [--threads 2] [--out results.json] [--only W] [--channels-last]

Each workload runs in its own subprocess (so its peak RSS is its own), with torch.set_num_threads(threads):
warm-up steps, then the median of timed steps. Workloads mirror benchmarks/src/main/java/io/graft/benchmarks:
same shapes, batch sizes, SGD(lr 0.01, momentum 0.9), cross-entropy. PyTorch's default memory format (NCHW) is what
Graft is compared with; --channels-last runs the ResNet-18 workloads with model and input in torch.channels_last
(the layout Graft's convolutions store their outputs in), for comparison.

Debian's python3-torch links the reference BLAS through libblas.so.3; for a fair GEMM point it at OpenBLAS:
    apt-get install libopenblas0-pthread
    update-alternatives --set libblas.so.3-x86_64-linux-gnu \
        /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
(the script prints which BLAS the process mapped).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torchvision.models as tvm

WORKLOADS = ["op_conv2d_stem", "op_conv2d_mid", "op_conv2d_mid_frozen_weight", "op_batchnorm", "op_linear", "op_maxpool",
             "step_mlp", "step_smallcnn", "step_resnet18_224", "step_resnet18_64", "step_resnet18_frozen_224",
             "forward_resnet18_224", "optim_frozen", "optim_full", "fe_uncached", "fe_cached",
             "fe_epoch", "fe_epoch_cached",
             "optim_adamw_frozen", "optim_adamw_full", "step_vit_b_16_224", "step_efficientnet_b0_224"]


def smallcnn(c):
    sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/reference")
    from finetune_demo import smallcnn as s
    return s(c)


def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def timeit(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


CHANNELS_LAST = False  # --channels-last: ResNet-18 workloads with model and input in torch.channels_last


def cl(m, x):
    if CHANNELS_LAST:
        return m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return m, x


def run(name):
    g = torch.Generator().manual_seed(1)
    ce = nn.CrossEntropyLoss()
    if name.startswith("op_"):
        b = 8
        if name == "op_conv2d_stem":
            x = torch.randn(b, 3, 224, 224, generator=g, requires_grad=True)
            w = (torch.randn(64, 3, 7, 7, generator=g) * 0.05).requires_grad_()
            f = lambda: torch.nn.functional.conv2d(x, w, None, 2, 3).sum().backward()  # noqa: E731
        elif name == "op_conv2d_mid":
            x = torch.randn(b, 128, 28, 28, generator=g, requires_grad=True)
            w = (torch.randn(128, 128, 3, 3, generator=g) * 0.03).requires_grad_()
            f = lambda: torch.nn.functional.conv2d(x, w, None, 1, 1).sum().backward()  # noqa: E731
        elif name == "op_conv2d_mid_frozen_weight":
            x = torch.randn(b, 128, 28, 28, generator=g, requires_grad=True)
            w = torch.randn(128, 128, 3, 3, generator=g) * 0.03  # frozen: autograd computes the input gradient only
            f = lambda: torch.nn.functional.conv2d(x, w, None, 1, 1).sum().backward()  # noqa: E731
        elif name == "op_batchnorm":
            x = torch.randn(b, 64, 112, 112, generator=g, requires_grad=True)
            wt = torch.ones(64, requires_grad=True)
            bs = torch.zeros(64, requires_grad=True)
            rm, rv = torch.zeros(64), torch.ones(64)
            f = lambda: torch.nn.functional.batch_norm(x, rm, rv, wt, bs, True, 0.1, 1e-5).sum().backward()  # noqa
        elif name == "op_linear":
            x = torch.randn(b, 512, generator=g, requires_grad=True)
            w = (torch.randn(1000, 512, generator=g) * 0.04).requires_grad_()
            bias = torch.zeros(1000, requires_grad=True)
            f = lambda: torch.nn.functional.linear(x, w, bias).sum().backward()  # noqa: E731
        else:
            x = torch.randn(b, 64, 112, 112, generator=g, requires_grad=True)
            f = lambda: torch.nn.functional.max_pool2d(x, 3, 2, 1).sum().backward()  # noqa: E731
        return timeit(f, 3, 20)
    if name.startswith("step_"):
        w = name[5:]
        if w == "mlp":
            m, x = mlp(), torch.randn(256, 784, generator=g)
        elif w == "smallcnn":
            m, x = smallcnn(10), torch.randn(64, 1, 28, 28, generator=g)
        elif w in ("vit_b_16_224", "efficientnet_b0_224"):
            m, x = getattr(tvm, w[:-4])(num_classes=10), torch.randn(8, 3, 224, 224, generator=g)
        else:
            m = tvm.resnet18(num_classes=10)
            size, batch = (64, 32) if w.endswith("_64") else (224, 8)
            x = torch.randn(batch, 3, size, size, generator=g)
            if "frozen" in w:
                for n, p in m.named_parameters():
                    p.requires_grad_(n.startswith("fc."))
            m, x = cl(m, x)
        y = torch.arange(x.shape[0]) % 10
        m.train()
        opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            ce(m(x), y).backward()
            opt.step()
        return timeit(step, 3, 15 if "resnet18" in w or w.endswith("_224") else 50)
    if name == "forward_resnet18_224":
        m = tvm.resnet18().eval()
        m, x = cl(m, torch.randn(8, 3, 224, 224, generator=g))

        def fwd():
            with torch.no_grad():
                m(x).sum().item()
        return timeit(fwd, 3, 15)
    if name.startswith("optim_"):
        m = tvm.resnet18(num_classes=10)
        for n, p in m.named_parameters():
            if name.endswith("frozen") and not n.startswith("fc."):
                p.requires_grad_(False)
            elif p.requires_grad:
                p.grad = torch.full_like(p, 1e-3)
        trainable = [p for p in m.parameters() if p.requires_grad]
        if "adamw" in name:
            opt = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.01)
        else:
            opt = torch.optim.SGD(trainable, lr=0.01, momentum=0.9)
        return timeit(opt.step, 3, 30)
    # feature extraction: resnet18 frozen backbone, 256 images 3x64x64, batch 32, 5 epochs per run
    m = tvm.resnet18(num_classes=10)
    for n, p in m.named_parameters():
        p.requires_grad_(n.startswith("fc."))
    m.train()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.eval()
    data = torch.randn(256, 3, 64, 64, generator=g)
    labels = torch.arange(256) % 10
    opt = torch.optim.SGD(m.fc.parameters(), lr=0.01, momentum=0.9)
    def epoch(forward):
        perm = torch.randperm(256)
        for i in range(0, 256, 32):
            idx = perm[i:i + 32]
            opt.zero_grad(set_to_none=True)
            ce(forward(idx), labels[idx]).backward()
            opt.step()

    if name == "fe_epoch":  # one ordinary frozen-backbone epoch
        return timeit(lambda: epoch(lambda idx: m(data[idx])), 2, 10)
    if name == "fe_epoch_cached":  # one epoch of the head on features computed beforehand
        with torch.no_grad():
            m.fc, fc = nn.Identity(), m.fc
            feats = torch.cat([m(data[i:i + 32]) for i in range(0, 256, 32)])
            m.fc = fc
        return timeit(lambda: epoch(lambda idx: m.fc(feats[idx])), 5, 50)
    if name == "fe_uncached":
        def run5():
            for _ in range(5):
                perm = torch.randperm(256)
                for i in range(0, 256, 32):
                    idx = perm[i:i + 32]
                    opt.zero_grad(set_to_none=True)
                    ce(m(data[idx]), labels[idx]).backward()
                    opt.step()
        return timeit(run5, 1, 3)

    def run5_cached():
        with torch.no_grad():
            m.fc, fc = nn.Identity(), m.fc
            feats = torch.cat([m(data[i:i + 32]) for i in range(0, 256, 32)])
            m.fc = fc
        for _ in range(5):
            perm = torch.randperm(256)
            for i in range(0, 256, 32):
                idx = perm[i:i + 32]
                opt.zero_grad(set_to_none=True)
                ce(m.fc(feats[idx]), labels[idx]).backward()
                opt.step()
    return timeit(run5_cached, 1, 3)


def blas():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return sorted(libs)
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only")
    ap.add_argument("--out")
    ap.add_argument("--channels-last", action="store_true",
                    help="ResNet-18 workloads in torch.channels_last (model and input), for comparison")
    a = ap.parse_args()
    global CHANNELS_LAST
    CHANNELS_LAST = a.channels_last
    torch.set_num_threads(a.threads)
    if a.only:
        ms = run(a.only)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"workload": a.only, "ms": ms, "peak_rss_mib": rss, "blas": blas(),
                          "channels_last": CHANNELS_LAST}))
        return
    results = []
    for w in WORKLOADS:
        out = subprocess.run([sys.executable, __file__, "--threads", str(a.threads), "--only", w]
                             + (["--channels-last"] if CHANNELS_LAST else []),
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        results.append(r)
        print(f"{w:28s} {r['ms']:10.2f} ms   peak RSS {r['peak_rss_mib']:7.0f} MiB", flush=True)
    doc = {"torch": torch.__version__, "threads": a.threads, "blas": results[0]["blas"],
           "channels_last": CHANNELS_LAST, "date": time.strftime("%Y-%m-%d"), "results": results}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
    print(json.dumps({k: v for k, v in doc.items() if k != "results"}))


if __name__ == "__main__":
    main()
