"""Training loops for the segmentation U-Net and the crop classifier (CPU, fixed seeds)."""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from training import data
from training.nets import CropClassifier, UNet3D

log = logging.getLogger(__name__)


def build_bank(rng: np.random.Generator, n_phantoms: int) -> list[data.Slab]:
    """Phantom slabs (with lesions) plus the real background slabs."""
    t0 = time.time()
    bank = [data.phantom_slab(rng) for _ in range(n_phantoms)]
    log.info("generated %d phantom slabs in %.0f s", n_phantoms, time.time() - t0)
    return bank


def _dice_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum()
    dice = 1 - (2 * inter + 1) / (prob.sum() + target.sum() + 1)
    return bce + dice


def train_segmentation(
    phantoms: list[data.Slab],
    real: list[data.Slab],
    steps: int,
    batch: int,
    seed: int,
    model: UNet3D | None = None,
    max_lr: float = 3e-3,
    attached_p: float = 0.5,
    big_p: float = 0.0,
    extra_noise: float = 0.0,
) -> UNet3D:
    """Train (or, given ``model``, fine-tune) the U-Net with one-cycle AdamW on random patches."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = model if model is not None else UNet3D(base=8)
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps, pct_start=0.1)
    model.train()
    t0, running = time.time(), 0.0
    for step in range(steps):
        xs, ys = [], []
        for _ in range(batch):
            if rng.uniform() < 0.4:
                slab, extra = real[int(rng.integers(len(real)))], int(rng.integers(0, 3))
            else:
                slab, extra = phantoms[int(rng.integers(len(phantoms)))], int(rng.integers(0, 2))
            x, y = data.sample_patch(rng, slab, extra, attached_p, big_p, extra_noise)
            xs.append(x)
            ys.append(y)
        xb = torch.from_numpy(np.stack(xs)[:, None].copy())
        yb = torch.from_numpy(np.stack(ys)[:, None].astype(np.float32))
        loss = _dice_bce(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 50 == 0 or step == steps - 1:
            log.info("seg step %d/%d loss %.4f (%.0f s)", step, steps, running, time.time() - t0)
    return model.eval()


def classifier_set(rng: np.random.Generator, slabs: list[data.Slab], n: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    while len(xs) < n:
        out = data.classifier_crop(rng, slabs[int(rng.integers(len(slabs)))])
        if out is not None:
            xs.append(out[0])
            ys.append(out[1])
    return np.stack(xs)[:, None].astype(np.float32), np.asarray(ys, dtype=np.int64)


def train_classifier(x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> CropClassifier:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CropClassifier(n_classes=2)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        total = 0.0
        for i in range(0, len(order), 32):
            idx = torch.from_numpy(order[i : i + 32])
            xb = xt[idx]
            if rng.uniform() < 0.5:
                xb = torch.flip(xb, dims=[4])
            loss = F.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        log.info("cls epoch %d loss %.4f", epoch, total / len(x))
    return model.eval()


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017) on held-out logits: minimise NLL over T."""
    lt = torch.from_numpy(logits.astype(np.float64))
    yt = torch.from_numpy(labels)
    best_t, best = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.25), np.log(8.0), 200)):
        nll = float(F.cross_entropy(lt / float(t), yt))
        if nll < best:
            best_t, best = float(t), nll
    return best_t
