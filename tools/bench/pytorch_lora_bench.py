#!/usr/bin/python3
"""PyTorch side of benchmarks/.../LoraStepBenchmarks: a LoRA step and a full step of vit_b_16, 224², batch 8.

    /usr/bin/python3 tools/bench/pytorch_lora_bench.py [--threads 2] [--out results.json]

LoRA as tools/lora_reference.py writes it (PEFT's semantics): r = 8, alpha 16 on every block's packed q/k/v
projection and out_proj, the head trained fully, everything else frozen; AdamW(lr 1e-4) over the trainable
parameters only; cross-entropy on 10 classes. Each workload runs in its own subprocess (its peak RSS is its own):
3 warm-up steps, then the median of 10 timed steps.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as tvm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import lora_reference  # noqa: E402

WORKLOADS = ["step_vit_b_16_lora_224", "step_vit_b_16_full_224"]


def run(name):
    torch.manual_seed(1)
    m = tvm.vit_b_16(num_classes=10)
    if "lora" in name:
        targets = []
        for i, block in enumerate(m.encoder.layers):
            lora_reference.add_in_proj_lora(block.self_attention, 8, 16)
            lora_reference.lora_attention(block.self_attention)
            targets.append(f"encoder.layers.encoder_layer_{i}.self_attention.out_proj")
        lora_reference.apply_lora(m, targets, 8, 16, 0.0, ["heads.head"])
    m.train()
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    x = torch.randn(8, 3, 224, 224)
    y = torch.arange(8) % 10

    def step():
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    ts = []
    for _ in range(10):
        t0 = time.perf_counter()
        step()
        ts.append((time.perf_counter() - t0) * 1000)
    return {"ms": statistics.median(ts), "trainable": sum(p.numel() for p in params),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    ap.add_argument("--only")
    a = ap.parse_args()
    if a.only:
        torch.set_num_threads(a.threads)
        print(json.dumps(run(a.only)))
        return
    results = {}
    for w in WORKLOADS:
        out = subprocess.run([sys.executable, __file__, "--threads", str(a.threads), "--only", w], check=True,
                             capture_output=True, text=True).stdout
        results[w] = json.loads(out.strip().splitlines()[-1])
        print(w, results[w], flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
