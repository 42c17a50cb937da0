"""Shared benchmark helpers: the common command-line arguments, a device sync, and median timing."""
import argparse
import statistics
import time

import torch


def parser(doc: str, width: float = 0.25, batch: int = 64) -> argparse.ArgumentParser:
    """An argument parser with the model / width / batch / device options every benchmark takes."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--width", type=float, default=width)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return ap


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_seconds(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def model_on_device(args, classes: int = 100):
    """(device, model): the benchmark's model, seeded, on its device."""
    from hslib.models import build_model

    dev = torch.device(args.device)
    torch.manual_seed(0)
    return dev, build_model(args.model, classes, width=args.width).to(dev)
