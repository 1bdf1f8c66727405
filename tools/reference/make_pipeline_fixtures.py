#!/usr/bin/env python3
"""Reference numbers for the WebDataset pipeline stages (DEV-ONLY) -> Tests/Fixtures/pipeline/*.json.

Everything here is produced by Python `webdataset` itself (its DataPipeline, SimpleShardList,
split_by_node, split_by_worker, shuffle's buffer, batched, with_epoch, expand_urls), so the Swift tests
can check that the Swift stages have the same structure:

  split.json      which shards each (rank, worker) reads, for several (shards, world, workers), in both
                  stage orders: rank then worker (split_by_node, split_by_worker: the Swift default) and
                  worker then rank (split_by_worker, split_by_node: CoDE's DeepFakeDataset.py order).
                  Rank / worker are set through webdataset's RANK, WORLD_SIZE, WORKER, NUM_WORKERS
                  environment variables (utils.pytorch_worker_info reads them).
  shuffle.json    the shuffle buffer algorithm: input 0..n-1, (bufsize, initial), the random indices the
                  buffer drew (webdataset calls rng.randint(0, len(buf) - 1); recorded by wrapping the
                  rng) and the output order. Replaying the same indices through the Swift buffer must give
                  the same output: the RNGs differ (Mersenne Twister there, SplitMix64 here), the
                  algorithm must not.
  batched.json    batch sizes of batched(batchsize, partial) over n samples.
  with_epoch.json what webdataset's with_epoch does over a finite 10-sample pipeline: every epoch
                  restarts the pipeline (the Swift EpochStream's `.restart` mode; its default `.continue`
                  mode instead carries on where the previous epoch stopped).
  braceexpand.json  expand_urls (split on "::", then braceexpand) for a few shard specs, in order.

Usage: python3 tools/reference/make_pipeline_fixtures.py   (pip install webdataset; deterministic)
"""
import json
import os
import random
import sys

import braceexpand
import webdataset as wds
from webdataset.filters import _shuffle
from webdataset.shardlists import expand_urls

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "pipeline")


def versions():
    return {
        "python": sys.version.split()[0],
        "webdataset": wds.__version__,
        "braceexpand": getattr(braceexpand, "__version__", "0.1.7"),
    }


def write(name, obj):
    obj = {"generator": "tools/reference/make_pipeline_fixtures.py", "versions": versions(), **obj}
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def set_env(rank, world, worker, workers):
    os.environ["RANK"] = str(rank)
    os.environ["WORLD_SIZE"] = str(world)
    os.environ["WORKER"] = str(worker)
    os.environ["NUM_WORKERS"] = str(workers)


def shard_names(n):
    return [f"shard-{i:03d}.tar" for i in range(n)]


def split_fixture():
    configs = [(37, 1, 1), (37, 2, 1), (37, 1, 3), (37, 2, 3), (37, 4, 3), (37, 3, 4), (37, 8, 5),
               (10, 4, 3), (12, 2, 2), (5, 2, 4)]
    cases = []
    for n, world, workers in configs:
        urls = shard_names(n)
        for order in ("rank_then_worker", "worker_then_rank"):
            stages = ([wds.split_by_node, wds.split_by_worker] if order == "rank_then_worker"
                      else [wds.split_by_worker, wds.split_by_node])
            slots = []
            for rank in range(world):
                for worker in range(workers):
                    set_env(rank, world, worker, workers)
                    pipe = wds.DataPipeline(wds.SimpleShardList(urls), *stages)
                    got = [urls.index(d["url"]) for d in pipe]
                    slots.append({"rank": rank, "worker": worker, "shards": got})
            cases.append({"shards": n, "world": world, "workers": workers, "order": order, "slots": slots})
    for k in ("RANK", "WORLD_SIZE", "WORKER", "NUM_WORKERS"):
        del os.environ[k]
    write("split.json", {
        "what": "indices (into shard-000..shard-{n-1}) each (rank, worker) reads with SimpleShardList "
                "(no seed) followed by split_by_node/split_by_worker in the given order",
        "cases": cases})


class RecordingRandom(random.Random):
    def __init__(self, seed):
        super().__init__(seed)
        self.draws = []

    def randint(self, a, b):
        k = super().randint(a, b)
        assert a == 0
        self.draws.append([b + 1, k])  # [buffer length, picked index]
        return k


def shuffle_fixture():
    configs = [(50, 10, 3, 1), (100, 1000, 100, 2), (30, 5, 10, 3), (7, 1, 1, 4), (0, 10, 3, 5),
               (1, 10, 3, 6), (64, 16, 16, 7), (25, 8, 0, 8)]
    cases = []
    for n, bufsize, initial, seed in configs:
        rng = RecordingRandom(seed)
        out = list(_shuffle(iter(range(n)), bufsize, initial, rng=rng))
        assert sorted(out) == list(range(n))
        cases.append({"n": n, "bufsize": bufsize, "initial": initial, "draws": rng.draws, "output": out})
    write("shuffle.json", {
        "what": "webdataset filters._shuffle over iter(range(n)); draws = [len(buf), index] for every "
                "rng.randint(0, len(buf)-1) call, in call order",
        "cases": cases})


def batched_fixture():
    cases = []
    for n, size, partial in [(23, 5, True), (23, 5, False), (25, 5, True), (25, 5, False), (3, 5, True),
                             (3, 5, False), (0, 4, True), (1, 1, False)]:
        batches = list(wds.filters._batched(iter(range(n)), size, collation_fn=None, partial=partial))
        cases.append({"n": n, "size": size, "partial": partial, "batches": batches})
    write("batched.json", {"what": "webdataset filters._batched(range(n), size, collation_fn=None, partial)",
                           "cases": cases})


def with_epoch_fixture():
    pipe = wds.DataPipeline(lambda: iter(range(10))).with_epoch(4)
    epochs = [list(pipe) for _ in range(3)]
    pipe2 = wds.DataPipeline(lambda: iter(range(10))).with_epoch(25)
    long_epochs = [list(pipe2) for _ in range(2)]
    write("with_epoch.json", {
        "what": "DataPipeline(range(10)).with_epoch(n): each list(pipe) is one epoch; webdataset restarts "
                "the pipeline at every epoch and repeats a finite source to fill an epoch",
        "cases": [{"source": 10, "length": 4, "epochs": epochs},
                  {"source": 10, "length": 25, "epochs": long_epochs}]})


def braceexpand_fixture():
    specs = ["shard-{000..012}.tar", "data/train-{0..3}-of-{4}.tar", "{a,b}-{0..2}.tar",
             "x-{08..11}.tar::y-{0..1}.tar", "plain.tar", "n-{9..11}.tar", "r-{3..1}.tar"]
    write("braceexpand.json", {
        "what": "webdataset shardlists.expand_urls(spec): split on '::', braceexpand each part, in order",
        "cases": [{"spec": s, "urls": expand_urls(s)} for s in specs]})


def main():
    os.makedirs(OUT, exist_ok=True)
    split_fixture()
    shuffle_fixture()
    batched_fixture()
    with_epoch_fixture()
    braceexpand_fixture()
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
