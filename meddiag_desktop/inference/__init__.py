"""Local AI engine (onnxruntime on the CPU by default; never the network).

Public entry points (import from the submodules, so importing this package stays cheap):

* :func:`meddiag_desktop.inference.analyze.analyze_volume` -> ``AnalysisResult``
* :func:`meddiag_desktop.inference.analyze.format_findings_table`
* :class:`meddiag_desktop.inference.registry.ModelRegistry` (built-in + per-user models, sha256-verified)
* :func:`meddiag_desktop.inference.manifest.load_manifest` / ``parse_manifest``

Importing this package turns onnxruntime's telemetry off (see ``_offline``) before any submodule
imports onnxruntime: no byte leaves the workstation.
"""

from meddiag_desktop.inference._offline import disable_onnxruntime_telemetry

disable_onnxruntime_telemetry()
