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
import copy
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
    for k, p in model.named_parameters():
        p.requires_grad_("lora_" in k)  # adapters added before (the packed in_proj's) stay trainable
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


def train_case(name, model, targets, r, alpha, x, y, tensors, modules_to_save=(), forward=None, merge_extra=None,
               lr=1e-2, eps=1e-8, repatch=None):
    """3 AdamW steps (lr, eps, weight decay 1e-2) of cross-entropy with LoRA at `targets`; stores what the docstring at the
    top lists. The same run in float64 (from the same values) shows how far float32 rounding moves the adapters: the
    Java test's tolerance must stay above it."""
    forward = forward or model
    twin = copy.deepcopy(model)
    if repatch:
        repatch(twin)  # a deep copy keeps functions (patched forwards) bound to the original modules
    twin_run = train_steps(twin, targets, r, alpha, x.double(), y, modules_to_save, lr, eps, torch.float64, None)
    tensors.update({f"{name}/base/{k}": v.detach().clone() for k, v in model.state_dict().items()
                    if "lora_" not in k})
    twin_init = {k: v for k, v in twin_run[1].items()}
    wrappers, trainable, losses = train_steps(model, targets, r, alpha, x, y, modules_to_save, lr, eps,
                                              torch.float32, twin_init, tensors, name)
    after64 = dict(twin_run[2])
    drifts = {k: (p.detach().double() - after64[k]).abs().max().item() for k, p in trainable}
    worst = max(drifts, key=drifts.get)
    print(f"{name}: float32 vs float64 adapters after {STEPS} steps: max diff {drifts[worst]:.2e} ({worst})")
    model.eval()
    with torch.no_grad():
        logits = forward(x)
        tensors[f"{name}/logits"] = logits.clone()
        merge_and_unload(model, wrappers)
        if merge_extra:
            merge_extra()
        merged = forward(x)
        tensors[f"{name}/merged_logits"] = merged.clone()
    tensors.update({f"{name}/merged/{k}": v.detach().clone() for k, v in model.state_dict().items()})
    diff = (merged - logits).abs().max().item()
    print(f"{name}: losses {['%.6f' % v for v in losses]}, merged vs unmerged logits max diff {diff:.2e}")
    return model


def train_steps(model, targets, r, alpha, x, y, modules_to_save, lr, eps, dtype, init, tensors=None, name=None):
    """Applies LoRA, sets lora_A from `init` (when given), trains STEPS AdamW steps in `dtype`. Returns the wrappers,
    the trainable (name, parameter) pairs and the losses; in float64 mode (init None) returns the wrappers, the
    initial lora_A values and the trained values instead."""
    wrappers = apply_lora(model, targets, r, alpha, 0.0, modules_to_save)
    model.to(dtype)
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k.endswith("lora_A.weight"):
                p.copy_(p.float().to(dtype))  # float32 values in both runs
    a_init = {k: p.detach().clone() for k, p in model.named_parameters() if k.endswith("lora_A.weight")}
    if init is not None:
        with torch.no_grad():
            for k, p in model.named_parameters():
                if k in init:
                    p.copy_(init[k].to(dtype))
        a_init = {k: p.detach().clone() for k, p in model.named_parameters() if k.endswith("lora_A.weight")}
    if tensors is not None:
        for k, v in a_init.items():
            tensors[f"{name}/init/{k}"] = v.float()
    trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([p for _, p in trainable], lr=lr, weight_decay=WEIGHT_DECAY, eps=eps)
    model.train()
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    frozen_grads = [k for k, p in model.named_parameters() if not p.requires_grad and p.grad is not None]
    assert not frozen_grads, frozen_grads
    if tensors is not None:
        tensors[f"{name}/x"] = x
        tensors[f"{name}/y"] = y
        tensors[f"{name}/loss"] = torch.tensor(losses, dtype=torch.float64)
        for k, p in trainable:
            tensors[f"{name}/after/{k}"] = p.detach().clone()
    if init is None:
        return wrappers, a_init, [(k, p.detach().clone()) for k, p in trainable]
    return wrappers, trainable, losses


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


def add_in_proj_lora(mha, r, alpha):
    """LoRA on nn.MultiheadAttention's packed q/k/v projection, as a LoRA on a Linear(E, 3E) would be:
    qkv = x W_inᵀ + b_in + (alpha / r) · (x Aᵀ) Bᵀ, with A = mha.lora_A [r, E] and B = mha.lora_B [3E, r]
    (keys <attention path>.lora_A.weight / lora_B.weight)."""
    e = mha.embed_dim
    mha.lora_A = nn.Linear(e, r, bias=False)
    mha.lora_B = nn.Linear(r, 3 * e, bias=False)
    nn.init.zeros_(mha.lora_B.weight)
    mha.lora_scaling = alpha / r


def merge_in_proj_lora(mha):
    with torch.no_grad():
        mha.in_proj_weight += (mha.lora_B.weight @ mha.lora_A.weight) * mha.lora_scaling
    del mha.lora_A, mha.lora_B
    lora_attention(mha)


def lora_attention(mha):
    """Replaces a batch_first nn.MultiheadAttention's forward (self-attention, no mask, no dropout) by the same
    computation written out, so that out_proj runs as a module (nn.MultiheadAttention reads out_proj.weight directly,
    which would bypass a LoRA wrapper there) and an optional LoRA on the packed in_proj is added."""

    def forward(query, key, value, need_weights=False, **unused):
        x = query
        n, length, e = x.shape
        h = mha.num_heads
        d = e // h
        qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)
        if hasattr(mha, "lora_A"):
            qkv = qkv + mha.lora_B(mha.lora_A(x)) * mha.lora_scaling
        q, k, v = qkv.chunk(3, dim=-1)
        q = q.reshape(n, length, h, d).transpose(1, 2)
        k = k.reshape(n, length, h, d).transpose(1, 2)
        v = v.reshape(n, length, h, d).transpose(1, 2)
        attn = torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(d), dim=-1)
        o = (attn @ v).transpose(1, 2).reshape(n, length, e)
        return mha.out_proj(o), None

    mha.forward = forward


def vit(out_dir, image_size=64, classes=5, r=4, alpha=8, in_proj=True, gain=0.5, lr=1e-4, eps=1e-6):
    """vit_b_32 with seeded views for weights (tools/fixtures/zoo.py's scheme at weight gain 0.5, so the .pth stays
    small and the residual stream moderate), LoRA r=4 on every block's self_attention.out_proj (and, with in_proj, on
    the packed q/k/v projection), the head trained fully; 3 AdamW steps on a batch of 2.

    AdamW normalises each element's step, so an element whose gradient is nearly zero (the key rows of the packed
    projection have some: softmax ignores a shift shared by all keys) takes a step of about ±lr decided by rounding
    noise. At lr 1e-4 and eps 1e-6 the float32 run stays within 1e-6 of the float64 one (printed), so a 1e-5
    comparison between two float32 implementations is meaningful; at lr 1e-3, eps 1e-8 it would not be (1.7e-4)."""
    import torchvision.models as tvm
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
    from zoo import fixture_state

    torch.manual_seed(20261207)
    gen = torch.Generator().manual_seed(77)
    model = tvm.vit_b_32(image_size=image_size, num_classes=classes)
    state = fixture_state(model, gen, gain)
    model.load_state_dict(state, strict=True)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(state, os.path.join(out_dir, "vit_b_32_base.pth"))
    x = torch.randn(2, 3, image_size, image_size)
    y = torch.tensor([1, 3])
    model.eval()
    with torch.no_grad():
        plain = model(x)
    blocks = list(model.encoder.layers)
    for block in blocks:
        if in_proj:
            add_in_proj_lora(block.self_attention, r, alpha)
        lora_attention(block.self_attention)
    with torch.no_grad():
        written_out = model(x)
    print(f"vit_b_32: attention written out vs nn.MultiheadAttention: max diff {(written_out - plain).abs().max():.2e}")
    targets = [f"encoder.layers.encoder_layer_{i}.self_attention.out_proj" for i in range(len(blocks))]
    tensors = {}

    def merge_extra():
        if in_proj:
            for block in blocks:
                merge_in_proj_lora(block.self_attention)

    train_case("vit", model, targets, r, alpha, x, y, tensors, modules_to_save=["heads.head"],
               merge_extra=merge_extra, lr=lr, eps=eps,
               repatch=lambda m: [lora_attention(b.self_attention) for b in m.encoder.layers])
    safetensors_io.save(os.path.join(out_dir, "vit_b_32.safetensors"),
                        {k: v for k, v in tensors.items() if "/base/" not in k and "/merged/" not in k})


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("small", "all"):
        small(os.path.join("optim", "src", "test", "resources", "fixtures", "lora"))
    if what in ("vit", "all"):
        vit(os.path.join("finetune", "src", "test", "resources", "fixtures", "lora"))
