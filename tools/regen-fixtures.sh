#!/usr/bin/env bash
# Regenerates every committed PyTorch fixture. Needs Debian's python3-torch (and torchvision, onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 tools/fixtures/core_ops.py
/usr/bin/python3 tools/fixtures/layers.py
/usr/bin/python3 tools/fixtures/optim.py
/usr/bin/python3 tools/fixtures/zoo.py
/usr/bin/python3 tools/fixtures/onnx_weights.py
/usr/bin/python3 tools/fixtures/transforms.py
/usr/bin/python3 tools/fixtures/conv_blocks.py
/usr/bin/python3 tools/fixtures/zoo_conv.py
/usr/bin/python3 tools/fixtures/train_conv.py
/usr/bin/python3 tools/fixtures/onnx_conv.py
/usr/bin/python3 tools/lora_reference.py all
/usr/bin/python3 tools/ddp_reference.py
/usr/bin/python3 tools/fixtures/transformer_ops.py
/usr/bin/python3 tools/fixtures/zoo_vit.py
/usr/bin/python3 tools/fixtures/onnx_vit.py
/usr/bin/python3 tools/fixtures/train_vit.py
/usr/bin/python3 tools/fixtures/pretrained.py
