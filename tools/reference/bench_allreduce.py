#!/usr/bin/env python3
"""Python reference for deepfake-bench's `allreduce` case: torch.distributed (gloo, TCP on loopback) between
2 processes on this machine. DEV-ONLY (scripts/bench-collective runs it beside the Swift case).

The same workload as the Swift case: the average of ViT-Tiny/16's 5,524,416 float32 gradients
(all_reduce SUM, then division by the world size), every call after a barrier; a single-threaded compute loop
(w = w * 0.999 + 0.001 over 32,768 floats, numpy, in place) alone, sized to take about as long; and the two
together: all_reduce(async_op=True), the loop, wait(). gloo runs the reduction on its own threads, so there is
no polling variant. The three are timed in turn, round after round; the figures are means over the rounds.
Overlap = (allreduce + compute - together) / min(allreduce, compute).

Usage: python3 tools/reference/bench_allreduce.py [--seconds 8] [--ranks 2]
Prints one JSON line (rank 0), keys as the Swift case's.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

COUNT = 5_524_416


def timed(body) -> float:
    """Seconds of body(), every rank starting it together (after a barrier)."""
    dist.barrier()
    t0 = time.perf_counter()
    body()
    return time.perf_counter() - t0


def worker(rank: int, ranks: int, port: int, seconds: float) -> None:
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=ranks)
    gradients = torch.ones(COUNT, dtype=torch.float32)
    work = np.ones(1 << 15, dtype=np.float32)

    def compute_pass() -> None:
        np.multiply(work, np.float32(0.999), out=work)
        np.add(work, np.float32(0.001), out=work)

    def allreduce() -> None:
        dist.all_reduce(gradients)
        gradients.div_(ranks)

    once = min(timed(allreduce) for _ in range(3))
    one_pass = timed(lambda: [compute_pass() for _ in range(300)]) / 300
    plan = torch.tensor([max(5.0, min(1000.0, round(seconds / 4 / once))), max(1.0, round(once / one_pass))], dtype=torch.float64)
    dist.broadcast(plan, src=0)
    rounds, passes = int(plan[0]), int(plan[1])

    def together() -> None:
        work_handle = dist.all_reduce(gradients, async_op=True)
        for _ in range(passes):
            compute_pass()
        work_handle.wait()
        gradients.div_(ranks)

    t_allreduce = t_compute = t_together = 0.0
    for _ in range(rounds):  # in turn, so that the load of a shared machine weighs on each alike
        t_allreduce += timed(allreduce)
        t_compute += timed(lambda: [compute_pass() for _ in range(passes)])
        t_together += timed(together)
    t_allreduce, t_compute, t_together = t_allreduce / rounds, t_compute / rounds, t_together / rounds
    if rank == 0:
        nbytes = COUNT * 4
        print(json.dumps({
            "case": "allreduce", "impl": "python-gloo", "ranks": ranks, "floats": COUNT, "rounds": rounds,
            "ms_per_call": t_allreduce * 1000, "algbw_gb_s": nbytes / t_allreduce / 1e9,
            "busbw_gb_s": nbytes * 2 * (ranks - 1) / ranks / t_allreduce / 1e9,
            "compute_ms": t_compute * 1000, "together_unpolled_ms": t_together * 1000,
            "overlap_unpolled": (t_allreduce + t_compute - t_together) / min(t_allreduce, t_compute),
            "torch": torch.__version__,
        }), flush=True)
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args()
    with socket.socket() as s:  # a free loopback port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(args.ranks, port, args.seconds), nprocs=args.ranks, join=True)


if __name__ == "__main__":
    main()
