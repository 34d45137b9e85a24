"""The pre-screen network (training side only: imports torch).

A small fully convolutional network produces a 16×16 map of anomaly logits over the 128×128 input;
the image logit is a log-mean-exp pooling of that map. Pooling a map (rather than a dense head) lets
one small lesion decide the score wherever it lies, gives the runtime a heatmap for free, and lets
training supervise the map with the generator's anomaly masks, which teaches far faster than
image labels alone.

The pool's sharpness is 1, so it works as a soft count: every hot cell adds to the image logit,
and a plate with one more lesion scores higher even when it already has others (a sharper pool is
a soft maximum, blind to a second lesion that is no hotter than the first).
"""
from __future__ import annotations

import math

import torch
from torch import nn

LSE_SHARPNESS = 1.0


def _block(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class PrescreenNet(nn.Module):
    """128×128 equalised radiograph → (image logit (B,), anomaly logit map (B, 1, 16, 16))."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(1, w // 2), nn.MaxPool2d(2),              # 64
            _block(w // 2, w), nn.MaxPool2d(2),              # 32
            _block(w, 2 * w), _block(2 * w, 2 * w), nn.MaxPool2d(2),  # 16
            _block(2 * w, 3 * w), _block(3 * w, 3 * w, dilation=2), _block(3 * w, 3 * w, dilation=4),
        )
        self.head = nn.Conv2d(3 * w, 1, 1)
        nn.init.constant_(self.head.bias, -3.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logit_map = self.head(self.features(x))
        flat = logit_map.flatten(1) * LSE_SHARPNESS
        pooled = (torch.logsumexp(flat, dim=1) - math.log(flat.shape[1])) / LSE_SHARPNESS
        return pooled, logit_map


class ExportWrapper(nn.Module):
    """What ships in ONNX: probabilities, so the runtime does no math of its own."""

    def __init__(self, net: PrescreenNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, logit_map = self.net(x)
        return torch.sigmoid(pooled), torch.sigmoid(logit_map)
