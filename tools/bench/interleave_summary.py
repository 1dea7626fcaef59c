"""Summarises tools/bench/interleave.sh output: per workload, each round's Graft and PyTorch milliseconds, the
paired ratio Graft / PyTorch, and the median of the ratios. Usage: interleave_summary.py OUTDIR"""
import glob
import json
import os
import statistics
import sys

out = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "*-graft.json"))):
    base = os.path.basename(f)[: -len("-graft.json")]
    rnd, w = base.split("-", 1)
    g = json.load(open(f))[0]["primaryMetric"]["score"]
    p = json.loads(open(os.path.join(out, base + "-pytorch.json")).read())["ms"]
    rows.setdefault(w, []).append((int(rnd), g, p))
for w, rs in rows.items():
    rs.sort()
    ratios = [g / p for _, g, p in rs]
    pairs = ", ".join(f"{g:.1f}/{p:.1f}" for _, g, p in rs)
    print(f"{w:22s} Graft/PyTorch ms per round: {pairs}; ratios {', '.join(f'{x:.2f}' for x in ratios)};"
          f" median ratio {statistics.median(ratios):.2f}")
