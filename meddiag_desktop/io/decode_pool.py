"""Parallel decoding of compressed pixel data in worker processes.

pylibjpeg's decoders (libjpeg, openjpeg, rle) and pydicom's pixel path hold the GIL, so
threads interleave instead of running in parallel (measured: 0.93-0.98x with 2 threads on
J2K, JPEG-LS and JPEG lossless). Worker processes do run in parallel. They are started with
``forkserver``, never ``fork``: forking a multi-threaded Qt process can deadlock. Where the OS
has no ``forkserver`` (Windows), ``spawn``: slower to start, as safe.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

from meddiag_desktop.io.pixels import decode_file

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from meddiag_desktop.core.records import InstanceRecord


def start_method() -> str:
    """``forkserver`` where the OS offers it, else ``spawn``; never ``fork`` (see the module note)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class DecodePool:
    """A lazily started pool of decoder processes; owned by whoever creates it, closed by them."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self._executor: ProcessPoolExecutor | None = None

    def submit(self, record: InstanceRecord) -> Future[NDArray[np.generic]]:
        return self._ensure().submit(decode_file, record)

    def warm_up(self) -> None:
        """Start every worker process now (e.g. from a background thread at app start)."""
        executor = self._ensure()
        for future in [executor.submit(os.getpid) for _ in range(self.workers)]:
            future.result()

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            method = start_method()
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                context.set_forkserver_preload(["meddiag_desktop.io.pixels"])
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
