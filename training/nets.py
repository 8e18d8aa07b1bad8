"""The crop classifier: a small 3D CNN (the segmenter is the 2.5D U-Net in ``net25d``)."""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv3d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


class CropClassifier(nn.Module):
    """A small 3D CNN over a ``(N, 1, 8, 32, 32)`` crop; returns class logits."""

    def __init__(self, n_classes: int = 2, base: int = 12) -> None:
        super().__init__()

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.Conv3d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm3d(cout),
                nn.LeakyReLU(0.1, inplace=True),
            ]

        self.features = nn.Sequential(
            *conv(1, base),
            nn.MaxPool3d((1, 2, 2)),
            *conv(base, base * 2),
            nn.MaxPool3d(2),
            *conv(base * 2, base * 4),
            nn.MaxPool3d(2),
            *conv(base * 4, base * 4),
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(base * 4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))
