"""Cluster options: sizing a local cluster, refusing options an existing cluster cannot take."""

from __future__ import annotations

import os

import pytest

from meddiag_desktop.batch.cluster import ClusterError, ClusterSpec, local_size


def test_local_cluster_defaults_to_one_single_threaded_worker_per_core() -> None:
    assert local_size(ClusterSpec()) == (os.cpu_count() or 1, 1)
    assert local_size(ClusterSpec(workers=3, threads_per_worker=2)) == (3, 2)


def test_an_existing_cluster_is_not_sized_from_here() -> None:
    with pytest.raises(ClusterError, match="sized by whoever started its workers"):
        ClusterSpec("tcp://10.0.0.5:8786", workers=4)


def test_counts_must_be_positive() -> None:
    with pytest.raises(ClusterError, match="--workers must be at least 1"):
        ClusterSpec(workers=0)
