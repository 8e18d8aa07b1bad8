"""The crop classifier's training loop and temperature scaling (CPU, fixed seeds)."""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from training.nets import CropClassifier

log = logging.getLogger(__name__)


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
