"""MedDiag Desktop: local, auditable AI help for reviewing CT/MR studies."""

__version__ = "0.1.0"
