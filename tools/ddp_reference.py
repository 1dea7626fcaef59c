#!/usr/bin/python3
"""PyTorch DistributedDataParallel reference for graft-spark's data-parallel training.

Run from the repository root:  /usr/bin/python3 tools/ddp_reference.py   (--search: how SEED below was chosen)
Writes spark/src/test/resources/fixtures/ddp/smallcnn_bn_ddp.safetensors.

Two processes (gloo backend, 127.0.0.1) train a smallcnn WITH BatchNorm, Graft's SmallCNN layer for layer (keys
features.0/.1/.4/.5, fc1, head; 10 classes), for 3 SGD steps (lr 0.05, momentum 0.9, weight decay 1e-4) on 3
global batches of 32 images (examples 32s .. 32s+31 at step s), split 16/16: rank r takes examples
32s+16r .. 32s+16r+15. DDP averages gradients (each rank's gradient of its own shard's mean loss, sum / 2).
BatchNorm uses per-replica batch statistics (no SyncBatchNorm) and broadcast_buffers=False, so each replica's
running statistics follow its own shards; after the 3 steps (one epoch) they are averaged across the replicas, as
Graft does at an epoch's end.

Stored: init/<key> (the initial state dict), x (96x1x28x28), y (96, int64), final/<key> (rank 0's parameters
after the 3 steps, with the averaged BatchNorm buffers), rank1/<param> (rank 1's parameters, equal to rank 0's).
"""
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
import safetensors_io  # noqa: E402

OUT = os.path.join("spark", "src", "test", "resources", "fixtures", "ddp", "smallcnn_bn_ddp.safetensors")
WORLD = 2
GLOBAL = 32
STEPS = 3


class SmallCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.fc1 = nn.Linear(1568, 64)
        self.relu = nn.ReLU()
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.relu(self.fc1(torch.flatten(self.features(x), 1))))


def worker(rank, init, x, y, port, out):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    model = SmallCNN()
    model.load_state_dict(init)
    ddp = nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    ddp.train()
    shard = GLOBAL // WORLD
    for s in range(STEPS):
        lo = GLOBAL * s + shard * rank
        opt.zero_grad()
        loss = F.cross_entropy(ddp(x[lo:lo + shard]), y[lo:lo + shard])
        loss.backward()
        opt.step()
    # the epoch's end: running statistics averaged over the replicas
    for name, b in model.named_buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b /= WORLD
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out[rank] = state
    dist.destroy_process_group()


def margin(seed):
    """The smallest distance from a gradient discontinuity along the float64 trajectory of this seed's 3 steps.

    A max pool whose two largest inputs are nearly equal, or a ReLU input near 0, is a kink: float32 rounding that
    depends on the thread count or the memory layout can put it on either side, and the gradient jumps (the seed
    2024 used before had a max-pool gap of 7.5e-7, so its fixture held with 2 threads but not with 1). For every
    max-pool window over a BatchNorm -> ReLU output z: top1 - max(top2, 0) if top1 > 0, else -top1; for fc1's ReLU:
    |input|. Both shards of every step, float64.
    """
    torch.manual_seed(seed)
    init = {k: v.detach().clone() for k, v in SmallCNN().state_dict().items()}
    x = torch.randn(GLOBAL * STEPS, 1, 28, 28, dtype=torch.float32).double()
    y = torch.randint(0, 10, (GLOBAL * STEPS,))
    m = SmallCNN()
    m.load_state_dict(init)
    m = m.double().train()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    worst = [float("inf")]

    def pooled(_, __, z):
        n, c, hh, ww = z.shape
        win = z.detach().reshape(n, c, hh // 2, 2, ww // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(-1, 4)
        top = win.topk(2, dim=-1).values
        gap = torch.where(top[:, 0] > 0, top[:, 0] - top[:, 1].clamp(min=0), -top[:, 0])
        worst[0] = min(worst[0], float(gap.min()))

    def hidden(_, __, z):
        worst[0] = min(worst[0], float(z.detach().abs().min()))

    m.features[1].register_forward_hook(pooled)
    m.features[5].register_forward_hook(pooled)
    m.fc1.register_forward_hook(hidden)
    shard = GLOBAL // WORLD
    for s in range(STEPS):
        opt.zero_grad()
        for r in range(WORLD):
            lo = GLOBAL * s + shard * r
            (F.cross_entropy(m(x[lo:lo + shard]), y[lo:lo + shard]) / WORLD).backward()
        opt.step()
    return worst[0]


def search(seeds=range(300)):
    """The seed of largest margin() among `seeds` (prints each)."""
    best = max(seeds, key=lambda s: (margin(s), -s))
    print("seed", best, "margin %.3g" % margin(best), "(seed 2024: %.3g)" % margin(2024))
    return best


# search() over seeds 0..299 picks this one: its smallest kink distance is 1.3e-5 (the median seed's is 1.2e-6, the
# old seed 2024's 7.5e-7), above the float32 rounding of the O(1) activations that depends on thread count and
# layout (about 1e-6 after the convolutions and batch statistics).
SEED = 63


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--search":
        search()
        return
    torch.manual_seed(SEED)
    init = {k: v.detach().clone() for k, v in SmallCNN().state_dict().items()}
    x = torch.randn(GLOBAL * STEPS, 1, 28, 28)
    y = torch.randint(0, 10, (GLOBAL * STEPS,))
    mgr = mp.Manager()
    out = mgr.dict()
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(init, x, y, port, out), nprocs=WORLD, join=True)
    tensors = {f"init/{k}": v for k, v in init.items()}
    tensors["x"] = x
    tensors["y"] = y
    for k, v in out[0].items():
        tensors[f"final/{k}"] = v
    for k, v in out[1].items():
        if k in dict(SmallCNN().named_parameters()):
            tensors[f"rank1/{k}"] = v
            assert torch.equal(v, out[0][k]), k
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    safetensors_io.save(OUT, tensors, {"world": str(WORLD), "global_batch": str(GLOBAL), "steps": str(STEPS),
                                       "lr": "0.05", "momentum": "0.9", "weight_decay": "1e-4"})
    print("wrote", OUT, sum(v.numel() for v in tensors.values()) * 4, "bytes")


if __name__ == "__main__":
    main()
