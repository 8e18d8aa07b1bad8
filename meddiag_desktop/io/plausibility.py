"""Is a decoded frame plausible? Catches corrupt pixel data that decodes without an error.

A damaged JPEG Lossless stream (``JPEGLossless_1s_1f_i_16_16_bad.dcm`` in the corpus) decodes
"successfully" into dots and stripes. Two checks, both on the stored values before rescale:

- **Bit depth** (decoded frames only): every stored value must fit Bits Stored with the
  declared Pixel Representation (PS3.3 C.7.6.3.1.1; PS3.5 8.1.1). Frames read natively have
  their unused high bits cleared first (``pixels.honour_bits_stored``), as PS3.5 requires.
- **Modality range**: CT values after the Modality LUT are Hounsfield units (PS3.3 C.11.1.1.2);
  air is -1000 and dense bone and contrast stay below a few thousand. When more than
  ``MAX_OUTSIDE_FRACTION`` of the pixels (on a 1-in-16 grid, padding excluded) lie outside
  ``CT_HU_RANGE``, the frame is called implausible. Padding outside the reconstruction circle
  (Pixel Padding Value, often -2000 or -3024 HU) is the frame's minimum and is excluded; a
  metal implant (extended CT scale, up to ~30,000 HU) covers far less than 5 % of a slice.

A problem is a sentence for the volume's warnings, never an exception: the image is still
shown, with a banner, so the radiologist sees why it must not be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from meddiag_desktop.core.volume import GeometryWarning, WarningKind

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from meddiag_desktop.core.records import InstanceRecord

CT_HU_RANGE = (-1100.0, 4000.0)
MAX_OUTSIDE_FRACTION = 0.05
GRID = 4  # check every 4th row and column: 1/16 of the pixels, ~50 µs a 512² slice


def stored_bounds(bits_stored: int, pixel_representation: int) -> tuple[int, int]:
    """Smallest and largest stored value Bits Stored allows (two's complement when signed)."""
    if pixel_representation == 1:
        return (-(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1)
    return (0, (1 << bits_stored) - 1)


def bit_depth_problem(frame: NDArray[np.generic], record: InstanceRecord) -> str | None:
    """Why ``frame``'s stored values do not fit the declared bit depth, or None when they do."""
    if record.bits_stored <= 0 or not np.issubdtype(frame.dtype, np.integer) or record.samples_per_pixel != 1:
        return None
    low, high = stored_bounds(record.bits_stored, record.pixel_representation)
    got_low, got_high = int(frame.min()), int(frame.max())
    if got_low >= low and got_high <= high:
        return None
    sign = "signed" if record.pixel_representation == 1 else "unsigned"
    return (
        f"stored values {got_low}…{got_high} do not fit the declared {record.bits_stored}-bit {sign} range "
        f"({low}…{high})"
    )


def modality_problem(frame: NDArray[np.generic], modality: str, slope: float, intercept: float) -> str | None:
    """Why ``frame``'s rescaled values are impossible for ``modality``, or None."""
    if modality != "CT" or frame.ndim != 2:
        return None
    grid = np.asarray(frame[::GRID, ::GRID])
    if grid.size == 0:
        return None
    values = grid.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    low, high = CT_HU_RANGE
    outside = ((values < low) | (values > high)) & (grid != grid.min())
    fraction = float(np.count_nonzero(outside)) / grid.size
    if fraction <= MAX_OUTSIDE_FRACTION:
        return None
    return f"{fraction:.0%} of the pixels lie outside {low:+.0f}…{high:+.0f} HU, impossible for CT"


def frame_problem(
    frame: NDArray[np.generic], record: InstanceRecord, modality: str, slope: float, intercept: float, *, decoded: bool
) -> str | None:
    """The first plausibility problem of one frame of stored values (see the module notes)."""
    if decoded:
        problem = bit_depth_problem(frame, record)
        if problem is not None:
            return problem
    return modality_problem(frame, modality, slope, intercept)


def implausible_warning(problems: dict[int, str], total: int) -> GeometryWarning | None:
    """One warning naming how many images are implausible and why (the first three)."""
    if not problems:
        return None
    described = "; ".join(f"image {z + 1}: {problems[z]}" for z in sorted(problems)[:3])
    count = len(problems)
    return GeometryWarning(
        WarningKind.IMPLAUSIBLE_PIXELS,
        f"Pixel data probably corrupt in {count} of {total} image{'s' if total > 1 else ''} ({described}). "
        "They are shown as decoded; do not read from them.",
    )
