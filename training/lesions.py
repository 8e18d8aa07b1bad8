"""Simulated lung lesions: spheres, lobulated and spiculated shapes, solid / part-solid / GGO.

Lesions are fields evaluated at arbitrary millimetre coordinates, so partial volume comes
from averaging sub-slice samples. Classes (defined by construction, hence honest):
``solid`` (0) and ``subsolid`` (1: part-solid or pure ground-glass).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

KINDS = ("solid", "part_solid", "ggo")
CLASS_NAMES = ("solid", "subsolid")
DEFAULT_KINDS = (0.55, 0.25, 0.20)  # probabilities of KINDS


@dataclass(frozen=True)
class LesionParams:
    center: np.ndarray  # (z, y, x) mm
    radius: float
    kind: str
    axes: np.ndarray  # 3x3 rotation * scale (anisotropy)
    lobes: tuple[tuple[np.ndarray, float, int, float], ...]
    spikes: tuple[tuple[np.ndarray, float, float], ...]
    edge_mm: float
    solid_hu: float
    ggo_hu: float
    core_frac: float

    @property
    def label(self) -> int:
        return 0 if self.kind == "solid" else 1


def random_diameter(rng: np.random.Generator) -> float:
    u = rng.uniform()
    if u < 0.45:
        return float(np.exp(rng.uniform(np.log(5), np.log(20))))
    if u < 0.8:
        return float(rng.uniform(20, 45))
    return float(rng.uniform(45, 80))


def random_lesion(
    rng: np.random.Generator, center: np.ndarray, diameter: float, kinds: tuple[float, float, float] = DEFAULT_KINDS
) -> LesionParams:
    kind = str(rng.choice(KINDS, p=list(kinds)))
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    scale = np.diag(rng.uniform(0.75, 1.25, 3))
    n_lobes = int(rng.integers(0, 5))
    lobes = tuple(
        (_unit(rng), float(rng.uniform(0.03, 0.18)), int(rng.integers(2, 6)), float(rng.uniform(0, 6.3)))
        for _ in range(n_lobes)
    )
    spiculated = kind != "ggo" and rng.uniform() < 0.35
    spikes = tuple(
        (_unit(rng), float(rng.uniform(0.25, 0.9) * diameter / 2 + 3), float(rng.uniform(0.4, 1.1)))
        for _ in range(int(rng.integers(5, 18)) if spiculated else 0)
    )
    edge = rng.uniform(1.0, 4.0) if kind == "ggo" else rng.uniform(0.2, 2.0)
    return LesionParams(
        center=np.asarray(center, dtype=np.float64),
        radius=diameter / 2,
        kind=kind,
        axes=q @ scale,
        lobes=lobes,
        spikes=spikes,
        edge_mm=float(edge),
        solid_hu=float(rng.uniform(-10, 70)),
        ggo_hu=float(rng.uniform(-720, -380)),
        core_frac=float(rng.uniform(0.25, 0.65)),
    )


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def lesion_field(p: LesionParams, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At points (..., 3) in mm return (alpha_total, alpha_body, hu_value)."""
    rel = (pts - p.center) @ np.linalg.inv(p.axes).T
    dist = np.linalg.norm(rel, axis=-1)
    u = rel / np.maximum(dist, 1e-6)[..., None]
    r = np.full(dist.shape, p.radius)
    for d, amp, freq, phase in p.lobes:
        r = r * (1 + amp * np.cos(freq * np.arccos(np.clip(u @ d, -1, 1)) + phase))
    sdf = dist - r
    body = np.clip(0.5 - sdf / p.edge_mm, 0, 1)
    alpha = body.copy()
    for d, length, width in p.spikes:
        a, b = p.center + d * p.radius * 0.8, p.center + d * (p.radius + length)
        seg = b - a
        t = np.clip(((pts - a) @ seg) / float(seg @ seg), 0, 1)
        ds = np.linalg.norm(pts - (a + t[..., None] * seg), axis=-1)
        alpha = np.maximum(alpha, np.clip(0.5 - (ds - width * (1 - 0.7 * t)) / 0.4, 0, 1))
    if p.kind == "solid":
        value = np.full(dist.shape, p.solid_hu)
    elif p.kind == "ggo":
        value = np.full(dist.shape, p.ggo_hu)
    else:
        w = np.clip((dist / np.maximum(r, 1e-6) - p.core_frac) / 0.1, 0, 1)
        value = p.solid_hu * (1 - w) + p.ggo_hu * w
    return alpha, body, value


def _bbox(p: LesionParams, coords: tuple[np.ndarray, ...]) -> tuple[slice, ...] | None:
    ext = (
        p.radius * 1.35 * float(np.abs(p.axes).sum(axis=1).max())
        + max([s[1] for s in p.spikes], default=0.0)
        + 3 * p.edge_mm
    )
    out = []
    for axis, c in enumerate(coords):
        i0 = int(np.searchsorted(c, p.center[axis] - ext))
        i1 = int(np.searchsorted(c, p.center[axis] + ext))
        if i1 <= i0:
            return None
        out.append(slice(i0, i1))
    return tuple(out)


def _grid(coords: tuple[np.ndarray, ...], sl: tuple[slice, ...], z_offsets: np.ndarray) -> np.ndarray:
    z = coords[0][sl[0]][:, None] + z_offsets[None, :]
    zz, yy, xx = np.meshgrid(z.ravel(), coords[1][sl[1]], coords[2][sl[2]], indexing="ij")
    return np.stack([zz, yy, xx], -1)


def lung_near(lung: np.ndarray, spacing_yx: tuple[float, float]) -> np.ndarray:
    img = sitk.GetImageFromArray(lung.astype(np.uint8))
    r = [max(1, round(2.0 / spacing_yx[1])), max(1, round(2.0 / spacing_yx[0])), 0]
    return sitk.GetArrayFromImage(sitk.BinaryDilate(img, r)) > 0


def insert(
    hu: np.ndarray,
    lung: np.ndarray,
    label: np.ndarray,
    coords: tuple[np.ndarray, np.ndarray, np.ndarray],
    p: LesionParams,
    rng: np.random.Generator,
    z_sub: int,
    noise_sd: float = 0.0,
) -> None:
    """Composite a lesion into ``hu`` (in place) and set its visible part in ``label``.

    ``z_sub`` samples per slice give partial volume across thick slices. Bone is never
    overwritten; the label only covers lesion voxels in or next to aerated lung (a part
    hidden inside the mediastinum or chest wall is invisible and is not labelled).
    """
    sl = _bbox(p, coords)
    if sl is None:
        return
    dz = float(coords[0][1] - coords[0][0]) if len(coords[0]) > 1 else 1.0
    offs = (np.arange(z_sub) + 0.5) / z_sub * dz - dz / 2
    alpha, body, value = lesion_field(p, _grid(coords, sl, offs))
    shape = (-1, z_sub, alpha.shape[1], alpha.shape[2])
    alpha = alpha.reshape(shape).mean(1)
    body = body.reshape(shape).mean(1)
    value = value.reshape(shape).mean(1)
    old = hu[sl]
    a = alpha * (old < 150)
    new = old * (1 - a) + value * a
    if noise_sd > 0:
        new = new + a * rng.standard_normal(a.shape) * noise_sd
    hu[sl] = new.astype(hu.dtype)
    near = lung_near(lung[sl], (float(coords[1][1] - coords[1][0]), float(coords[2][1] - coords[2][0])))
    label[sl] |= (body >= 0.5) & near


def coord_spacing(coords: tuple[np.ndarray, ...]) -> list[float]:
    """Step (mm) of each axis's coordinates; 5 mm for an axis of one sample."""
    return [abs(float(c[1] - c[0])) if len(c) > 1 else 5.0 for c in coords]


def place_center(
    rng: np.random.Generator,
    lung: np.ndarray,
    coords: tuple[np.ndarray, ...],
    diameter: float,
    attached: bool,
) -> np.ndarray | None:
    """A lesion centre in the lung: free-floating, or on its border (pleura, hilum, mediastinum)."""
    if not lung.any():
        return None
    return Placement(lung, coords).sample(rng, diameter, attached)


class Placement:
    """Where lesions may go in one lung mask; the distance map is computed once, then sampled often."""

    def __init__(self, lung: np.ndarray, coords: tuple[np.ndarray, ...]) -> None:
        self.coords = coords
        img = sitk.GetImageFromArray(lung.astype(np.uint8))
        self.edge = np.argwhere(lung & ~(sitk.GetArrayFromImage(sitk.BinaryErode(img, [1, 1, 0])) > 0))
        sp = coord_spacing(coords)
        img.SetSpacing((sp[2], sp[1], sp[0]))
        dist = -sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(img, False, False, True))
        self.inside = np.argwhere(dist > 0)  # C order, as np.argwhere over the whole map
        self.depth = dist[dist > 0]
        self.max_depth = float(dist.max())

    def sample(self, rng: np.random.Generator, diameter: float, attached: bool) -> np.ndarray | None:
        if attached:
            candidates = self.edge
        else:
            threshold = min(diameter * 0.4, self.max_depth * 0.7)
            if threshold <= 0:
                return None
            candidates = self.inside[self.depth >= threshold]
        if len(candidates) == 0:
            return None
        idx = candidates[rng.integers(len(candidates))]
        c = np.array([self.coords[i][idx[i]] for i in range(3)], dtype=np.float64)
        if attached:
            c = c + rng.normal(0, diameter * 0.1, 3)
        return c


CENTRAL_KINDS = (0.85, 0.15, 0.0)  # central (hilar, mediastinal) lung cancers are mostly solid
CENTRAL_DIAMETER_MM = (25.0, 80.0)
INDENT_DEPTH_MM = 6.0  # deeper than the lung region's margin: the chest wall band is not "central"


def central_tissue(hu: np.ndarray, lung: np.ndarray, region: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """Soft tissue that indents a lung: hilum, mediastinum and heart border inside a lung's hull.

    ``region`` is the lung region (per-lung hull plus a margin); the chest wall only enters it as
    the margin's thin band, which the depth requirement removes.
    """
    depth = ndimage.distance_transform_edt(region, sampling=(1e3, spacing[1], spacing[2]))
    return (hu > -150) & (hu < 250) & ~lung & (depth >= INDENT_DEPTH_MM)


def central_center(
    rng: np.random.Generator,
    lung: np.ndarray,
    central: np.ndarray,
    coords: tuple[np.ndarray, ...],
    diameter: float,
) -> np.ndarray | None:
    """A centre in the lung a fraction of the radius away from central tissue, or ``None``.

    The lesion then lies mostly in the lung with a broad base merging into the hilum or
    mediastinum, the way central lung cancers present (unlike :class:`Placement`'s attached
    lesions, centred on the border, half hidden).
    """
    if not central.any() or not lung.any():
        return None
    spacing = coord_spacing(coords)
    dist = ndimage.distance_transform_edt(~central, sampling=spacing)
    radius = diameter / 2
    candidates = np.argwhere(lung & (dist >= 0.2 * radius) & (dist <= 0.8 * radius))
    if len(candidates) == 0:
        return None
    idx = candidates[rng.integers(len(candidates))]
    return np.array([coords[i][idx[i]] for i in range(3)], dtype=np.float64)
