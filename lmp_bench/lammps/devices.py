"""Which GPU each MPI rank uses, and how ranks are shared out among replicas.

A node's GPUs are dealt out by the rank's node-local position in the *whole* MPI job: with
replicas on sub-communicators, a rank's position inside its own replica would be 0 for
every replica's first rank and put them all on GPU 0. The plugin applies the same rule
itself when a deck asks for plain `device cuda` (pair_styles/pair_mlff.cpp).
"""

from __future__ import annotations

from typing import Any


def replica_communicator(world: Any, replicas: int) -> tuple[int, Any]:
    """(replica index, its communicator): `world` split evenly, in rank order."""
    if world.size % replicas:
        raise ValueError(
            f"{world.size} MPI ranks cannot be shared evenly by {replicas} replicas: start a "
            "multiple of the replica count"
        )
    replica = world.rank // (world.size // replicas)
    return replica, (world.Split(replica, world.rank) if replicas > 1 else world)


def node_local_rank(world: Any) -> int:
    """This rank's position among the ranks of `world` on the same node."""
    from mpi4py import MPI

    node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.rank)
    rank = node.rank
    node.Free()
    return rank


def gpu_for_rank(local_rank: int, device_count: int) -> int:
    """The GPU of a rank at node-local position `local_rank` among `device_count` GPUs."""
    if device_count < 1:
        raise ValueError("no GPU to choose from")
    return local_rank % device_count


def rank_device(device: str, world: Any, device_count: int) -> str:
    """The `device` value of this rank's pair_style line: cpu, or cuda:<its GPU>. Without a
    visible GPU, plain cuda (the plugin then says that it sees none)."""
    if device != "cuda" or device_count < 1:
        return device
    return f"cuda:{gpu_for_rank(node_local_rank(world), device_count)}"
