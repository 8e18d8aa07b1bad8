"""onnxruntime's telemetry, turned off before onnxruntime is first imported.

Official onnxruntime builds (1.29 and later on Linux and macOS) ship Microsoft's 1DS telemetry: on
import they create a device id and an event queue under the user's cache folder
(``Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db``) and about 9 s later resolve
``mobile.events.data.microsoft.com`` to upload them. ``onnxruntime.disable_telemetry_events()``
only suppresses later, non-essential events, so it cannot stop this. The one complete opt-out is
the environment variable ``ORT_DISABLE_TELEMETRY=1``, read once when onnxruntime is imported
(onnxruntime ``docs/Privacy.md``, "Disabling Telemetry"). This module sets it; it is imported by
``meddiag_desktop.inference`` itself, so it runs before any module of ours imports onnxruntime.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


def disable_onnxruntime_telemetry() -> bool:
    """Turn onnxruntime's telemetry off for this process and its children.

    Returns
    -------
    bool
        ``True`` when the opt-out is effective: onnxruntime was not imported yet, or was imported
        with the variable already set. ``False`` (and a warning) when something imported
        onnxruntime before us without it, so its telemetry is already running.
    """
    effective = "onnxruntime" not in sys.modules or os.environ.get(TELEMETRY_ENV) == "1"
    os.environ[TELEMETRY_ENV] = "1"
    if not effective:
        logger.warning(
            "onnxruntime was imported before its telemetry could be turned off; start the program with %s=1 set",
            TELEMETRY_ENV,
        )
    return effective
