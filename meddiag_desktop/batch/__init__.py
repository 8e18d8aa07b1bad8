"""Batch analysis and cohort validation as tasks on dask.distributed.

Nothing here is imported by the interactive app: ``distributed`` is imported lazily, only by
the ``batch`` and ``validate --workers/--scheduler`` commands, and they connect to no address
but the local cluster they start or the scheduler the user names.
"""
