"""The shared-storage rule for multi-node clusters (the probe itself runs in tests/cluster)."""

from __future__ import annotations

from raysearch.search.storage import storage_problem


def test_one_node_or_a_bucket_needs_nothing() -> None:
    assert storage_problem("/tmp/results", {"a" * 56: True}) is None
    assert storage_problem("s3://bucket/results", {"a": False, "b": False}) is None


def test_every_node_seeing_the_folder_is_shared() -> None:
    assert storage_problem("/mnt/nfs/results", {"a": True, "b": True, "c": True}) is None


def test_a_node_local_folder_is_refused_naming_the_fix() -> None:
    msg = storage_problem("/home/me/results", {"head0000000000": True, "worker1111111111": False})
    assert msg is not None
    assert "--results /home/me/results is not shared storage" in msg
    assert "1 of the cluster's 2 nodes" in msg and "worker111111" in msg
    assert "NFS" in msg and "same path on every node" in msg
