"""Training the 2.5D lesion segmenter on real chest CT backgrounds (CPU, fixed seeds).

Each training sample is one axial slice of a real scan (or its thick-slice versions) with its
neighbours, centred on a real tumour, on dense structures inside the lungs (vessels, hilum,
heart border: the usual false findings), anywhere in the lungs, or anywhere in the body.
Half of the samples get simulated lesions inserted into the real lung (free or attached to
the pleura, hilum or mediastinum; solid, part-solid or ground-glass; 5-80 mm). Scanner
differences are simulated: slice thickness (averaging along z), kernel (blur or sharpen),
noise, calibration offsets, zoom and left-right mirroring.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F  # noqa: N812
from scipy import ndimage

from training import lesions, real_paste
from training.net25d import CLIP_HU, OFFSETS, UNet2D

if TYPE_CHECKING:
    from training.real_data import GridCase

log = logging.getLogger(__name__)

REACH = max(abs(o) for o in OFFSETS)


@dataclass(frozen=True)
class SamplerConfig:
    patch: int = 160
    p_lesion: float = 0.3
    p_dense_lung: float = 0.2
    p_mediastinum: float = 0.15
    p_lung: float = 0.15
    p_insert: float = 0.4
    p_attached: float = 0.5
    p_thick: float = 0.35
    p_blur: float = 0.25
    p_sharpen: float = 0.15
    max_noise_hu: float = 30.0
    p_zoom: float = 0.3
    p_paste: float = 0.0  # a real tumour of another training scan pasted on the lung border (training.real_paste)
    p_central: float = 0.0  # an inserted lesion is a central mass (lesions.central_center) rather than free/attached


def normalise(hu: np.ndarray) -> np.ndarray:
    lo, hi = CLIP_HU
    return ((np.clip(hu, lo, hi) - lo) / (hi - lo)).astype(np.float32)


class Sampler:
    """Draws (channels, label, weight) training slices from real cases."""

    def __init__(self, cases: list[GridCase], cfg: SamplerConfig, rng: np.random.Generator) -> None:
        self.cases = cases
        self.cfg = cfg
        self.rng = rng
        self.patients = sorted({c.name for c in cases})
        self._points = {id(c): self._candidate_points(c) for c in cases}
        self.crops = real_paste.tumour_crops(cases) if cfg.p_paste > 0 else []

    @staticmethod
    def _candidate_points(case: GridCase) -> dict[str, np.ndarray]:
        sub = (slice(None), slice(None, None, 2), slice(None, None, 2))
        scale = np.array([1, 2, 2])
        dense = case.region[sub] & (case.hu[sub] > -500) & ~case.lesion[sub]
        soft = (case.hu[sub] > -150) & (case.hu[sub] < 250) & case.body[sub] & ~case.lung[sub]
        mediastinum = soft & case.region[sub] & ~case.lesion[sub] & ~case.ignore[sub]
        return {
            "lesion": np.argwhere(case.lesion),
            "dense_lung": np.argwhere(dense) * scale,
            "mediastinum": np.argwhere(mediastinum) * scale,
            "lung": np.argwhere(case.region[sub]) * scale,
            "body": np.argwhere(case.body[:, ::4, ::4]) * np.array([1, 4, 4]),
        }

    def _pick_case(self) -> GridCase:
        name = self.patients[int(self.rng.integers(len(self.patients)))]
        options = [c for c in self.cases if c.name == name]
        return options[int(self.rng.integers(len(options)))]

    def _pick_centre(self, case: GridCase) -> np.ndarray:
        cfg, points = self.cfg, self._points[id(case)]
        u = self.rng.uniform()
        order = (
            ("lesion", cfg.p_lesion),
            ("dense_lung", cfg.p_dense_lung),
            ("mediastinum", cfg.p_mediastinum),
            ("lung", cfg.p_lung),
        )
        kind = "body"
        for name, p in order:
            if u < p:
                kind = name
                break
            u -= p
        if len(points[kind]) == 0:
            kind = "body"
        return points[kind][int(self.rng.integers(len(points[kind])))]

    def _chunk(self, case: GridCase, centre: np.ndarray, half_z: int, half_xy: int) -> dict[str, np.ndarray]:
        zs = np.clip(np.arange(centre[0] - half_z, centre[0] + half_z + 1), 0, case.hu.shape[0] - 1)
        y0, x0 = int(centre[1]) - half_xy, int(centre[2]) - half_xy
        out = {}
        for key, fill in (("hu", -1024.0), ("lesion", 0), ("ignore", 0), ("lung", 0), ("region", 0)):
            arr = getattr(case, key)
            padded = np.full((len(zs), 2 * half_xy, 2 * half_xy), fill, dtype=arr.dtype)
            ys = slice(max(0, y0), min(arr.shape[1], y0 + 2 * half_xy))
            xs = slice(max(0, x0), min(arr.shape[2], x0 + 2 * half_xy))
            padded[:, ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = arr[zs][:, ys, xs]
            out[key] = padded
        out["hu"] = out["hu"].astype(np.float32)
        return out

    def _insert(self, chunk: dict[str, np.ndarray], spacing: tuple[float, float, float], half_z: int) -> None:
        near_centre = np.zeros_like(chunk["lung"])
        near_centre[half_z - 1 : half_z + 2] = chunk["lung"][half_z - 1 : half_z + 2]
        coords = tuple(np.arange(n) * s for n, s in zip(chunk["hu"].shape, spacing, strict=True))
        for _ in range(1 + int(self.rng.uniform() < 0.3)):
            if self.cfg.p_central > 0 and self.rng.uniform() < self.cfg.p_central:
                d = float(self.rng.uniform(*lesions.CENTRAL_DIAMETER_MM))
                central = lesions.central_tissue(chunk["hu"], chunk["lung"], chunk["region"], spacing)
                c = lesions.central_center(self.rng, near_centre, central, coords, d)
                kinds = lesions.CENTRAL_KINDS
            else:
                d = lesions.random_diameter(self.rng)
                attached = bool(self.rng.uniform() < self.cfg.p_attached)
                c = lesions.place_center(self.rng, near_centre, coords, d, attached)
                kinds = lesions.DEFAULT_KINDS
            if c is None:
                return
            p = lesions.random_lesion(self.rng, c, d, kinds)
            label = np.zeros(chunk["hu"].shape, dtype=bool)
            lesions.insert(
                chunk["hu"], chunk["lung"], label, coords, p, self.rng, z_sub=2, noise_sd=float(self.rng.uniform(5, 25))
            )
            chunk["lesion"] |= label

    def _paste(self, chunk: dict[str, np.ndarray], case: GridCase) -> None:
        others = [c for c in self.crops if c.source != case.name] or self.crops
        crop = others[int(self.rng.integers(len(others)))]
        real_paste.paste(chunk["hu"], chunk["lung"], chunk["lesion"], case.spacing, crop, self.rng)

    def _scanner(self, hu: np.ndarray, half_z: int) -> np.ndarray:
        cfg, rng = self.cfg, self.rng
        if rng.uniform() < cfg.p_thick:
            width = int(rng.integers(2, 5))
            hu = ndimage.uniform_filter1d(hu, width, axis=0, mode="nearest")
        if rng.uniform() < cfg.p_blur:
            hu = ndimage.gaussian_filter(hu, (0, *(2 * [float(rng.uniform(0.3, 1.0))])))
        elif rng.uniform() < cfg.p_sharpen:
            smooth = ndimage.gaussian_filter(hu, (0, 1.0, 1.0))
            hu = hu + float(rng.uniform(0.3, 1.0)) * (hu - smooth)
        noise = float(rng.uniform(0, cfg.max_noise_hu))
        hu = hu + rng.normal(0.0, noise, hu.shape).astype(np.float32)
        return hu * float(rng.uniform(0.97, 1.03)) + float(rng.uniform(-15, 15))

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg, rng = self.cfg, self.rng
        case = self._pick_case()
        centre = self._pick_centre(case) + np.array([0, *rng.integers(-40, 41, 2)])
        zoom = float(rng.uniform(0.85, 1.2)) if rng.uniform() < cfg.p_zoom else 1.0
        half_xy = int(np.ceil(cfg.patch / 2 / zoom)) + 2
        half_z = REACH + 2
        chunk = self._chunk(case, centre, half_z, half_xy)
        if self.crops and case.variant == "native" and rng.uniform() < cfg.p_paste:
            self._paste(chunk, case)
        if rng.uniform() < cfg.p_insert:
            self._insert(chunk, case.spacing, half_z)
        hu = self._scanner(chunk["hu"], half_z)
        channels = hu[[half_z + o for o in OFFSETS]]
        label = chunk["lesion"][half_z].astype(np.float32)
        weight = (~chunk["ignore"][half_z].astype(bool)).astype(np.float32)
        if zoom != 1.0:
            channels = ndimage.zoom(channels, (1, zoom, zoom), order=1)
            label = ndimage.zoom(label, zoom, order=1)
            weight = ndimage.zoom(weight, zoom, order=0)
        off = (np.array(channels.shape[1:]) - cfg.patch) // 2
        crop = (slice(off[0], off[0] + cfg.patch), slice(off[1], off[1] + cfg.patch))
        channels, label, weight = channels[(slice(None), *crop)], label[crop] >= 0.5, weight[crop]
        if rng.uniform() < 0.5:
            channels, label, weight = channels[:, :, ::-1], label[:, ::-1], weight[:, ::-1]
        return normalise(channels), np.ascontiguousarray(label, dtype=np.float32), np.ascontiguousarray(weight)


def _loss(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * weight).sum() / weight.sum()
    prob = torch.sigmoid(logits) * weight
    inter = (prob * target).sum()
    dice = 1 - (2 * inter + 1) / (prob.sum() + (target * weight).sum() + 1)
    return bce + dice


def train(
    cases: list[GridCase],
    steps: int,
    batch: int,
    seed: int,
    base: int = 16,
    max_lr: float = 2e-3,
    cfg: SamplerConfig | None = None,
) -> UNet2D:
    torch.manual_seed(seed)
    stream = SampleStream(cases, cfg or SamplerConfig(), seed, batch)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=4)
    model = UNet2D(base=base)
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps, pct_start=0.1)
    model.train()
    t0, running, t_wait = time.time(), 0.0, 0.0
    batches = iter(loader)
    for step in range(steps):
        tw = time.time()
        x, y, w = next(batches)
        t_wait += time.time() - tw
        loss = _loss(model(x), y, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 25 == 0 or step == steps - 1:
            log.info(
                "step %d/%d loss %.4f (%.0f s, waiting for data %.0f s)", step, steps, running, time.time() - t0, t_wait
            )
    return model.eval()


@torch.no_grad()
def predict_grid(model: UNet2D, hu: np.ndarray, chunk: int = 8) -> np.ndarray:
    """Sigmoid probabilities for every slice of a model-grid HU volume (torch, for evaluation)."""
    d, h, w = hu.shape
    ph, pw = (-h) % 16, (-w) % 16
    x = np.pad(normalise(hu), ((0, 0), (0, ph), (0, pw)), constant_values=0.0)
    idx = np.clip(np.arange(d)[:, None] + np.array(OFFSETS)[None, :], 0, d - 1)
    out = np.zeros((d, h, w), dtype=np.float32)
    for z0 in range(0, d, chunk):
        batch = torch.from_numpy(x[idx[z0 : z0 + chunk]])
        out[z0 : z0 + chunk] = torch.sigmoid(model(batch))[:, 0, :h, :w].numpy()
    return out


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    img = sitk.ConnectedComponent(sitk.GetImageFromArray(mask.astype(np.uint8)), True)
    labels = sitk.GetArrayFromImage(sitk.RelabelComponent(img, sortByObjectSize=True))
    return labels, int(labels.max())


class SampleStream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
    """Endless batches from a Sampler, built in a worker process while the main one trains."""

    def __init__(self, cases: list[GridCase], cfg: SamplerConfig, seed: int, batch: int) -> None:
        self.cases, self.cfg, self.seed, self.batch = cases, cfg, seed, batch

    def __iter__(self):  # type: ignore[no-untyped-def]
        torch.set_num_threads(1)
        sampler = Sampler(self.cases, self.cfg, np.random.default_rng(self.seed))
        while True:
            xs, ys, ws = zip(*(sampler.sample() for _ in range(self.batch)), strict=True)
            yield np.stack(xs), np.stack(ys)[:, None], np.stack(ws)[:, None]
