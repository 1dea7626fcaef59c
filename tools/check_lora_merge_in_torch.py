#!/usr/bin/python3
"""Checks a LoRA-merged model that Graft wrote against torchvision and a plain-torch LoRA.

Usage:  /usr/bin/python3 tools/check_lora_merge_in_torch.py MERGED.safetensors MODEL NUM_CLASSES [ADAPTERS_DIR BASE]
  MERGED        model.safetensors of a `graft finetune --strategy lora:...` run, or `graft export --adapters DIR
                --merge --safetensors FILE`'s output
  MODEL         the torchvision architecture (e.g. mobilenet_v2, vit_b_32)
  ADAPTERS_DIR  the run's folder: adapter_model.safetensors + adapter_config.json (PEFT's layout)
  BASE          the base weights the run started from (.pth or .safetensors, torchvision's keys)

1. Loads MERGED into torchvision's MODEL with load_state_dict(strict=True).
2. With ADAPTERS_DIR and BASE: builds MODEL from BASE, resizes the head to NUM_CLASSES, applies the plain-torch LoRA
   of tools/lora_reference.py at the adapter config's target_modules with its r and lora_alpha, loads the adapters
   (and the modules to save) from adapter_model.safetensors, and compares its eval logits (unmerged: base + B A
   path) with the merged model's on a seeded random batch.
Reads safetensors with a standalone reader (no Graft code).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision.models as tvm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_safetensors_in_torch import load  # noqa: E402
import lora_reference  # noqa: E402

PREFIX = "base_model.model."


def head_path(model):
    if model.startswith("vit"):
        return "heads.head"
    if model.startswith("vgg"):
        return "classifier.6"
    if model.startswith("resnet") or model.startswith("regnet"):
        return "fc"
    if model.startswith("mobilenet_v3"):
        return "classifier.3"
    if model.startswith("convnext"):
        return "classifier.2"
    return "classifier.1"


def image_size(model):
    return 224 if model.startswith("vit") else 64


def read_base(path):
    if path.endswith(".safetensors"):
        return load(path)
    return torch.load(path, map_location="cpu")


def main():
    merged_path, model, classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kwargs = {"image_size": int(os.environ.get("IMAGE_SIZE", "224"))} if model.startswith("vit") else {}
    merged = getattr(tvm, model)(num_classes=classes, **kwargs)
    result = merged.load_state_dict(load(merged_path), strict=True)
    print(f"{merged_path}: load_state_dict(strict=True) into torchvision {model}: {result}")
    if len(sys.argv) < 6:
        return
    adapters_dir, base_path = sys.argv[4], sys.argv[5]
    with open(os.path.join(adapters_dir, "adapter_config.json")) as f:
        config = json.load(f)
    assert config["peft_type"] == "LORA" and config["bias"] == "none", config
    ref = getattr(tvm, model)(**kwargs)
    ref.load_state_dict(read_base(base_path), strict=True)
    head = head_path(model)
    old = ref.get_submodule(head)
    lora_reference.set_child(ref, head, nn.Linear(old.in_features, classes))
    targets = []
    for path in config["target_modules"]:
        m = ref.get_submodule(path)
        parent = path.rpartition(".")[0]
        if isinstance(m, nn.MultiheadAttention):
            # Graft's LoraMultiheadAttention: a LoRA on the packed q/k/v projection (<path>.lora_A/B)
            lora_reference.add_in_proj_lora(m, config["r"], config["lora_alpha"])
            lora_reference.lora_attention(m)
        else:
            if parent and isinstance(ref.get_submodule(parent), nn.MultiheadAttention):
                lora_reference.lora_attention(ref.get_submodule(parent))  # so that out_proj runs as a module
            targets.append(path)
    wrappers = lora_reference.apply_lora(ref, targets, config["r"], config["lora_alpha"], 0.0,
                                         config.get("modules_to_save") or ())
    saved = load(os.path.join(adapters_dir, "adapter_model.safetensors"))
    own = ref.state_dict()
    loaded = 0
    with torch.no_grad():
        for k, v in saved.items():
            assert k.startswith(PREFIX), k
            own[k[len(PREFIX):]].copy_(v)
            loaded += 1
    print(f"plain-torch LoRA: {len(config['target_modules'])} adapted layers (r={config['r']}, lora_alpha={config['lora_alpha']}), "
          f"{loaded} tensors from adapter_model.safetensors")
    torch.manual_seed(0)
    size = int(os.environ.get("IMAGE_SIZE", image_size(model)))
    x = torch.randn(2, 3, size, size)
    ref.eval()
    merged.eval()
    with torch.no_grad():
        a = ref(x)
        b = merged(x)
    diff = (a - b).abs().max().item()
    scale = max(1.0, a.abs().max().item())
    print(f"eval logits, torch LoRA (unmerged) vs Graft's merged model in torchvision: max abs diff {diff:.2e} "
          f"(max |logit| {a.abs().max().item():.3f})")
    sys.exit(0 if diff <= 1e-4 * scale else 1)


if __name__ == "__main__":
    main()
