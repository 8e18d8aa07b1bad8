"""Where the tasks run: a LocalCluster sized to this machine, or the scheduler the user names.

``distributed`` is imported here, inside functions, and nowhere else: the interactive app never
loads it. A local cluster listens on 127.0.0.1 only (scheduler, workers and dashboard); with
``scheduler`` set, the client connects to that address and to nothing else, and starts nothing.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meddiag_desktop import __version__
from meddiag_desktop.errors import MeddiagError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from distributed import Client

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 20


# The nannies' default MALLOC_TRIM_THRESHOLD_=65536 turns off glibc's adaptive mmap threshold, so
# every large temporary array of an analysis is mmapped and page-faulted afresh: 15-25 % slower
# per study here (bench/bench_batch.py). Volumes (> 32 MB) are still returned to the system when freed.
WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


class ClusterError(MeddiagError):
    """The cluster cannot be started or reached, or its workers cannot run the tasks."""


@dataclass(frozen=True)
class ClusterSpec:
    """``scheduler`` (``tcp://host:port``) to use an existing cluster; else a local one.

    ``workers`` defaults to the number of cores, ``threads_per_worker`` to 1 and
    ``memory_limit`` (per worker, e.g. ``"4GiB"``) to the machine's memory shared evenly.
    """

    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | None = None

    def __post_init__(self) -> None:
        if self.scheduler and (self.workers or self.threads_per_worker or self.memory_limit):
            raise ClusterError(
                "--workers, --threads-per-worker and --memory-limit size a local cluster; an existing cluster "
                "(--scheduler) is sized by whoever started its workers."
            )
        for name in ("workers", "threads_per_worker"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ClusterError(f"--{name.replace('_', '-')} must be at least 1, not {value}.")


@dataclass(frozen=True)
class ClusterSession:
    """A connected client, the onnxruntime threads each task may use, and words for the user."""

    client: Client
    threads_per_task: int
    description: str
    dashboard: str


def local_size(spec: ClusterSpec) -> tuple[int, int]:
    """``(workers, threads per worker)``: one single-threaded worker process per core by default."""
    threads = spec.threads_per_worker or 1
    return spec.workers or max(1, (os.cpu_count() or 1) // threads), threads


def _start_local(spec: ClusterSpec, stack: ExitStack) -> ClusterSession:
    import dask
    from distributed import Client, LocalCluster

    workers, threads = local_size(spec)
    memory = spec.memory_limit or "auto"
    try:
        with dask.config.set(WORKER_ENVIRONMENT):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=threads, processes=True, memory_limit=memory, host=LOOPBACK,
                dashboard_address=f"{LOOPBACK}:0", silence_logs=logging.ERROR,
            )  # fmt: skip
        stack.enter_context(cluster)
    except (OSError, ValueError, TypeError) as exc:
        raise ClusterError(f"The local cluster could not be started: {exc}") from exc
    client = stack.enter_context(Client(cluster, set_as_default=False))
    _prepare_workers(client)
    text = f"local cluster: {workers} worker(s) x {threads} thread(s), {_memory_text(client)} per worker"
    return ClusterSession(client, threads, text, _dashboard(client))


def _connect(address: str, stack: ExitStack) -> ClusterSession:
    from distributed import Client

    try:
        client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False))
    except (OSError, ValueError) as exc:  # TimeoutError is an OSError
        raise ClusterError(
            f"Cannot reach the Dask scheduler at {address}: {exc}. Check the address and that the scheduler "
            "is running; nothing was analysed."
        ) from exc
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError as exc:
        raise ClusterError(f"The Dask scheduler at {address} has no workers; start some and try again.") from exc
    threads = _threads_per_task(client)
    _prepare_workers(client)
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    return ClusterSession(client, threads, f"cluster at {address}: {workers} worker(s)", _dashboard(client))


def _quiet_pydicom() -> None:
    """Run on each worker: pydicom logs what it also warns about; the warnings would cut into the progress bar."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\..*)?$")


def _prepare_workers(client: Client) -> None:
    """Set up every worker, including those a nanny restarts later (a worker plugin is kept by the scheduler)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class QuietPydicom(WorkerPlugin):
        idempotent = True
        name = "meddiag-quiet-pydicom"

        def setup(self, worker: object) -> None:
            _quiet_pydicom()

    client.register_plugin(QuietPydicom())


def worker_facts() -> tuple[str, int]:
    """Run on each worker: the meddiag-desktop version it has and its number of cores."""
    return __version__, os.cpu_count() or 1


def _threads_per_task(client: Client) -> int:
    """Cores per running task on the smallest worker, so that tasks never oversubscribe a machine."""
    facts = _facts(client)
    info = client.scheduler_info(n_workers=-1)["workers"]
    per_task = [max(1, facts[address][1] // max(1, int(w["nthreads"]))) for address, w in info.items()]
    return min(per_task, default=1)


def _facts(client: Client) -> dict[str, tuple[str, int]]:
    try:
        facts: dict[str, tuple[str, int]] = client.run(worker_facts)
    # A worker without meddiag-desktop fails to unpickle the function; that comes back as whatever it raised.
    except Exception as exc:
        raise ClusterError(
            f"The cluster's workers cannot run meddiag-desktop ({type(exc).__name__}: {exc}); install "
            f"meddiag-desktop {__version__} in every worker's environment."
        ) from exc
    other = sorted({version for version, _ in facts.values()} - {__version__})
    if other:
        logger.warning("workers run meddiag-desktop %s, this computer %s", ", ".join(other), __version__)
    return facts


def _memory_text(client: Client) -> str:
    limits = [int(w.get("memory_limit") or 0) for w in client.scheduler_info(n_workers=-1)["workers"].values()]
    smallest = min(limits, default=0)
    return f"{smallest / 2**30:.1f} GiB" if smallest else "no memory limit"


def _dashboard(client: Client) -> str:
    link: Any = client.dashboard_link
    needs = "" if importlib.util.find_spec("bokeh") else " (the page needs bokeh: pip install bokeh)"
    return f"{link}{needs}"


@contextmanager
def open_cluster(spec: ClusterSpec) -> Iterator[ClusterSession]:
    """Start (or connect to) the cluster; the local one is shut down on leaving, an existing one never."""
    with ExitStack() as stack:
        yield _connect(spec.scheduler, stack) if spec.scheduler else _start_local(spec, stack)
