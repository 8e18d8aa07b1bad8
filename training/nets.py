"""Small 3D networks: a U-Net for lesion segmentation and a CNN for crop classification."""

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


class UNet3D(nn.Module):
    """Anisotropic 3D U-Net: first pooling in-plane only (thick slices), then isotropic.

    Input ``(N, 1, D, H, W)`` with ``D % 4 == 0`` and ``H, W % 8 == 0``; output logits
    ``(N, 1, D, H, W)``.
    """

    def __init__(self, base: int = 8) -> None:
        super().__init__()
        c0, c1, c2, c3 = base, base * 2, base * 4, base * 8
        self.enc0 = _block(1, c0)
        self.enc1 = _block(c0, c1)
        self.enc2 = _block(c1, c2)
        self.enc3 = _block(c2, c3)
        self.pool_xy = nn.MaxPool3d((1, 2, 2))
        self.pool = nn.MaxPool3d(2)
        self.up3 = nn.ConvTranspose3d(c3, c2, 2, stride=2)
        self.dec2 = _block(c2 * 2, c2)
        self.up2 = nn.ConvTranspose3d(c2, c1, 2, stride=2)
        self.dec1 = _block(c1 * 2, c1)
        self.up1 = nn.ConvTranspose3d(c1, c0, (1, 2, 2), stride=(1, 2, 2))
        self.dec0 = _block(c0 * 2, c0)
        self.head = nn.Conv3d(c0, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(self.pool_xy(e0))
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up3(e3), e2], 1))
        d1 = self.dec1(torch.cat([self.up2(d2), e1], 1))
        d0 = self.dec0(torch.cat([self.up1(d1), e0], 1))
        return self.head(d0)


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
