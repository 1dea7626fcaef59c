#!/usr/bin/python3
"""LoRA in plain torch (Debian has no PEFT), the same as Graft's io.graft.layers.lora, and its parity fixtures.

Run from the repository root:  /usr/bin/python3 tools/lora_reference.py [small|vit|all]
Writes optim/src/test/resources/fixtures/lora/small.safetensors (an MLP and a small CNN) and, with "vit",
finetune/src/test/resources/fixtures/lora/vit_b_32.safetensors.

The LoRA here is PEFT's (LoraConfig defaults, bias="none", no rslora/dora) written out:
  * a target Linear(in, out) gets lora_A = Linear(in, r, bias=False) (nn.Linear's own init: Kaiming-uniform with
    a = sqrt(5)) and lora_B = Linear(r, out, bias=False) at zero; a target Conv2d gets lora_A = Conv2d(in, r, the
    base's kernel, stride and padding, bias=False) and lora_B = Conv2d(r, out, 1, bias=False);
  * y = base(x) + lora_B(lora_A(dropout(x))) * (alpha / r);
  * merge: W += (alpha / r) * B @ A (for a conv: B[o, k] A[k, i, kh, kw] summed over k);
  * the wrapper registers the base layer's own weight and bias under its path, so the model's keys are
    <path>.weight, <path>.bias, <path>.lora_A.weight, <path>.lora_B.weight (Graft's keys; PEFT's saved adapter
    files say base_model.model.<path>.lora_A.weight).

For each case "<c>" the fixture holds:
  <c>/base/<key>      the base model's state dict (before LoRA)
  <c>/init/<key>      the initial lora_A weights (torch's init; Graft loads them, its own generator differs)
  <c>/x, <c>/y        the batch (y: class indices, int64)
  <c>/loss            the 3 training losses (before each AdamW step)
  <c>/after/<key>     every trainable tensor after 3 AdamW steps (adapters and modules to save)
  <c>/logits          eval-mode logits after training, unmerged
  <c>/merged_logits   eval-mode logits of the merged model
  <c>/merged/<key>    the merged model's state dict (torchvision keys only)
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
import safetensors_io  # noqa: E402

STEPS = 3
LR = 1e-2
WEIGHT_DECAY = 1e-2


class LoraLinear(nn.Module):
    """A Linear with a low-rank adapter; keeps the base's weight and bias as its own parameters."""

    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.weight = base.weight
        self.bias = base.bias
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.merged:
            return y
        return y + self.lora_B(self.lora_A(self.dropout(x))) * self.scaling

    def delta(self):
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    def base(self):
        b = nn.Linear(self.weight.shape[1], self.weight.shape[0], bias=self.bias is not None)
        b.weight, b.bias = self.weight, self.bias
        return b


class LoraConv2d(nn.Module):
    """A Conv2d (groups 1, dilation 1) with PEFT's conv adapter."""

    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        assert base.groups == 1 and base.dilation == (1, 1)
        self.weight = base.weight
        self.bias = base.bias
        self.stride, self.padding = base.stride, base.padding
        self.lora_A = nn.Conv2d(base.in_channels, r, base.kernel_size, base.stride, base.padding, bias=False)
        self.lora_B = nn.Conv2d(r, base.out_channels, 1, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    def forward(self, x):
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        if self.merged:
            return y
        return y + self.lora_B(self.lora_A(self.dropout(x))) * self.scaling

    def delta(self):
        a, b = self.lora_A.weight, self.lora_B.weight
        d = b.reshape(b.shape[0], b.shape[1]) @ a.reshape(a.shape[0], -1)
        return (d * self.scaling).reshape(b.shape[0], *a.shape[1:])

    def base(self):
        o, i, kh, kw = self.weight.shape
        b = nn.Conv2d(i, o, (kh, kw), self.stride, self.padding, bias=self.bias is not None)
        b.weight, b.bias = self.weight, self.bias
        return b


def set_child(model, path, module):
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


def apply_lora(model, targets, r, alpha, dropout=0.0, modules_to_save=()):
    """Wraps the modules at the exact paths `targets`; freezes everything but the adapters and modules_to_save."""
    for p in model.parameters():
        p.requires_grad_(False)
    wrappers = {}
    for path in targets:
        m = model.get_submodule(path)
        w = LoraLinear(m, r, alpha, dropout) if isinstance(m, nn.Linear) else LoraConv2d(m, r, alpha, dropout)
        set_child(model, path, w)
        wrappers[path] = w
    for path in modules_to_save:
        for p in model.get_submodule(path).parameters():
            p.requires_grad_(True)
    return wrappers


def merge_and_unload(model, wrappers):
    with torch.no_grad():
        for path, w in wrappers.items():
            w.weight += w.delta()
            set_child(model, path, w.base())
    return model


def train_case(name, model, targets, r, alpha, x, y, tensors, modules_to_save=(), forward=None):
    forward = forward or model
    tensors.update({f"{name}/base/{k}": v.detach().clone() for k, v in model.state_dict().items()})
    wrappers = apply_lora(model, targets, r, alpha, 0.0, modules_to_save)
    for path, w in wrappers.items():
        tensors[f"{name}/init/{path}.lora_A.weight"] = w.lora_A.weight.detach().clone()
    trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([p for _, p in trainable], lr=LR, weight_decay=WEIGHT_DECAY)
    model.train()
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(forward(x), y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    frozen_grads = [k for k, p in model.named_parameters() if not p.requires_grad and p.grad is not None]
    assert not frozen_grads, frozen_grads
    tensors[f"{name}/x"] = x
    tensors[f"{name}/y"] = y
    tensors[f"{name}/loss"] = torch.tensor(losses, dtype=torch.float64)
    for k, p in trainable:
        tensors[f"{name}/after/{k}"] = p.detach().clone()
    model.eval()
    with torch.no_grad():
        logits = forward(x)
        tensors[f"{name}/logits"] = logits.clone()
        merge_and_unload(model, wrappers)
        merged = forward(x)
        tensors[f"{name}/merged_logits"] = merged.clone()
    tensors.update({f"{name}/merged/{k}": v.detach().clone() for k, v in model.state_dict().items()})
    diff = (merged - logits).abs().max().item()
    print(f"{name}: losses {['%.6f' % v for v in losses]}, merged vs unmerged logits max diff {diff:.2e}")
    return model


def small(out_dir):
    torch.manual_seed(20261207)
    tensors = {}
    mlp = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 5))
    train_case("mlp", mlp, ["0", "2"], 4, 8, torch.randn(4, 6), torch.tensor([0, 3, 1, 4]), tensors,
               modules_to_save=["4"])
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, padding=1),
                        nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3))
    train_case("cnn", cnn, ["0", "2", "5"], 2, 6, torch.randn(2, 3, 8, 8), torch.tensor([2, 0]), tensors)
    os.makedirs(out_dir, exist_ok=True)
    safetensors_io.save(os.path.join(out_dir, "small.safetensors"), tensors)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("small", "all"):
        small(os.path.join("optim", "src", "test", "resources", "fixtures", "lora"))
