"""Measured inference speed of finished runs, each timed in the form it would be deployed (engine tier).

What is timed: one forward pass in eval mode (`torch.inference_mode`) over a batch of random images at the run's
own resolution, on the CPU, the one device every profile has. Every network is warmed up once, then all of them are
timed round-robin for `rounds` rounds and each keeps its fastest round: other work on the machine only ever adds
time, so the fastest round is the closest to the network's own cost, and round-robin spreads what load there is over
all of them alike. (The series runs notebook 10 after its lanes, alone, for this reason: beside a lane's training, the
medians of 0.7 measured the load.)

The deployed form: a channel-sparse run (its method's pattern is 'channel') is compacted by `hslib.sparse.compact`
into a physically smaller dense network; every other run keeps its full dense shapes with zeros in them, because
CPU kernels do not skip zeros, so unstructured and N:M masks cannot be faster than dense here (2:4 kernels exist on
A100-class GPUs only). `speed_source` says all of this next to the numbers, and a speed panel prints it.
"""
from __future__ import annotations

import time

import pandas as pd
import torch

from . import store
from .config import RunConfig
from .data import num_classes
from .models import build_model
from .vocabulary import DATASETS, METHODS

ROUNDS = 10
BATCH = 128


def image_size(cfg: RunConfig) -> int:
    return cfg.image_size or DATASETS[cfg.dataset].image_size


def deployed(cfg: RunConfig, root=None) -> torch.nn.Module:
    """A finished run's trained network on the CPU in eval mode, as it would be deployed: channel-sparse runs
    compacted (removed channels dropped), every other run with its dense shapes."""
    directory = store.run_dir(store.runs_root(root), cfg)
    state = store.load_torch(store.run_file(directory, "final"))
    if state is None:
        raise store.MissingDependency(f"run {cfg.id} ({cfg.method}) has no final.pt under {directory}: train it first")
    model = build_model(cfg.model, num_classes(cfg.dataset, cfg.data_root or None), width=cfg.width,
                        image_size=image_size(cfg), dataset=cfg.dataset)
    model.load_state_dict(state)
    if METHODS[cfg.method].pattern == "channel":
        from .sparse import compact

        model = compact(model)
    return model.cpu().eval()


def source(batch: int = BATCH, rounds: int = ROUNDS) -> str:
    """The measurement in words, stored beside every number it produced."""
    return (f"CPU inference measured by hslib.speed ({torch.get_num_threads()} threads, batch {batch}, fastest of "
            f"{rounds} round-robin rounds); channel-sparse networks compacted, all others on dense kernels "
            f"(zeros not skipped)")


def measure(configs, root=None, batch: int = BATCH, rounds: int = ROUNDS) -> pd.DataFrame:
    """Inference speed of finished runs: one row per config with `id`, `images_per_second`, `deployed_params`
    (parameters of the deployed network, zeros included) and `speed_source`."""
    if not (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1):
        raise ValueError(f"batch={batch!r} is not allowed; allowed values: an integer >= 1")
    if not (isinstance(rounds, int) and not isinstance(rounds, bool) and rounds >= 1):
        raise ValueError(f"rounds={rounds!r} is not allowed; allowed values: an integer >= 1")
    configs = [c if isinstance(c, RunConfig) else RunConfig.from_dict(dict(c)) for c in configs]
    networks = [deployed(c, root) for c in configs]  # every run checked before any timing starts
    generator = torch.Generator().manual_seed(0)
    inputs = {s: torch.rand(batch, 3, s, s, generator=generator) for s in {image_size(c) for c in configs}}
    times: list[list[float]] = [[] for _ in configs]
    with torch.inference_mode():
        for net, c in zip(networks, configs):
            net(inputs[image_size(c)])  # warm-up: allocator, kernel selection
        for _ in range(rounds):
            for i, (net, c) in enumerate(zip(networks, configs)):
                start = time.perf_counter()
                net(inputs[image_size(c)])
                times[i].append(time.perf_counter() - start)
    words = source(batch, rounds)
    return pd.DataFrame({"id": [c.id for c in configs],
                         "images_per_second": [batch / min(t) for t in times],
                         "deployed_params": [sum(p.numel() for p in n.parameters()) for n in networks],
                         "speed_source": words})
