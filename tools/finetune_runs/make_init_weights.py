#!/usr/bin/python3
"""torchvision's random initialisation (seed 0) of the per-family models, saved as state dicts.

download.pytorch.org is not reachable from the machine the runs in docs/finetune.md were made on, so these stand in
for ImageNet weights: the runs exercise the `graft finetune` pipeline (loading a .pth, a new head, freezing, LoRA),
not transfer quality.

  /usr/bin/python3 tools/finetune_runs/make_init_weights.py OUT_DIR [model ...]   (default: efficientnet_b0 convnext_tiny vit_b_32)
"""
import os
import sys

import torch
import torchvision.models as tvm


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or ["efficientnet_b0", "convnext_tiny", "vit_b_32"]
    os.makedirs(out, exist_ok=True)
    for name in names:
        torch.manual_seed(0)
        m = getattr(tvm, name)(weights=None)
        path = os.path.join(out, f"{name}_init_seed0.pth")
        torch.save(m.state_dict(), path)
        print(path, sum(p.numel() for p in m.parameters()), "parameters")


if __name__ == "__main__":
    main()
