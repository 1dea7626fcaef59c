#!/usr/bin/python3
"""How large the frozen features of a randomly initialised torchvision model are (docs/finetune.md, per-family runs).

Loads WEIGHTS (from make_init_weights.py) into torchvision's MODEL in eval mode, runs the images of an ImageFolder
split as `graft finetune --image-size S` evaluates them (RGB, resize to S*256/224, centre crop S, ImageNet
normalisation) and prints the mean absolute value of the head's inputs and their standard deviation across images.

  /usr/bin/python3 tools/finetune_runs/check_init_features.py MODEL WEIGHTS FOLDER/val [S]
"""
import glob
import sys

import numpy as np
import torch
import torchvision.models as tvm
import torchvision.transforms as T
from PIL import Image


def main():
    name, weights, folder = sys.argv[1:4]
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    torch.set_num_threads(1)
    m = getattr(tvm, name)()
    m.load_state_dict(torch.load(weights))
    m.eval()
    tf = T.Compose([T.Resize(round(size * 256 / 224)), T.CenterCrop(size), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([tf(Image.open(f).convert("RGB")) for f in sorted(glob.glob(folder + "/*/*.png"))])
    head = m.classifier[-1] if hasattr(m, "classifier") else m.heads.head
    feats = []
    hook = head.register_forward_hook(lambda mod, inp, out: feats.append(inp[0]))
    with torch.no_grad():
        m(x)
    hook.remove()
    f = feats[0]
    print(f"{name}: {len(x)} images, features {tuple(f.shape)}, mean |f| {f.abs().mean().item():.3g}, "
          f"std across images (mean over features) {f.std(0).mean().item():.3g}")


if __name__ == "__main__":
    main()
