"""A 2.5D U-Net: each axial slice is segmented from itself and its neighbours.

On two CPU cores a 2D network sees about four times more context per second of training than
a 3D one of the same width (measured: 0.49 vs 0.14 M output voxels/s), and real-scan training
data is scarce, so context and augmentation matter more than 3D kernels. The app feeds it one
slice per batch item with the neighbour slices as channels (manifest layout ``NSHW``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

# Neighbour slices fed as channels, in model-grid slices (2.5 mm): +-5 mm in detail, and +-10
# and +-20 mm to tell a tube (aorta, oesophagus, vessels) from a blob (a tumour).
OFFSETS = (-8, -4, -2, 0, 2, 4, 8)
CLIP_HU = (-1000.0, 500.0)
SOFT_TISSUE_HU = (-160.0, 240.0)  # a mediastinal window, computed inside the graph


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.1, inplace=True),
    )


def soft_tissue_window(x: torch.Tensor) -> torch.Tensor:
    """From the [0, 1] full-window input, the same voxels in a mediastinal window."""
    lo, hi = CLIP_HU
    hu = x * (hi - lo) + lo
    a, b = SOFT_TISSUE_HU
    return ((hu - a) / (b - a)).clamp(0.0, 1.0)


class UNet2D(nn.Module):
    """A 5-level 2D U-Net over ``2 * len(OFFSETS)`` channels; returns one logit map."""

    def __init__(self, base: int = 16, in_channels: int = 2 * len(OFFSETS)) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(5)]
        self.enc = nn.ModuleList(
            [_block(in_channels, widths[0])] + [_block(widths[i], widths[i + 1]) for i in range(4)]
        )
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(4)])
        self.dec = nn.ModuleList([_block(2 * widths[i], widths[i]) for i in range(4)])
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, soft_tissue_window(x)], dim=1)
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips[-1]
        for i in reversed(range(4)):
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return self.head(x)


class Ensemble(nn.Module):
    """Several U-Nets trained alike from different seeds; their probabilities are averaged.

    With four real patients, two trainings that differ only in their seed can disagree a lot on a
    real tumour (measured leave-one-patient-out on LUNG1-001: Dice 0.78 vs 0.25 for the two seeds);
    averaging them is steadier and drops false findings that only one of them makes. The output
    stays a logit, so the app's sigmoid returns the mean probability.
    """

    def __init__(self, members: list[UNet2D]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prob = torch.stack([torch.sigmoid(m(x)) for m in self.members]).mean(dim=0)
        prob = prob.clamp(1e-6, 1.0 - 1e-6)
        return torch.log(prob) - torch.log1p(-prob)
