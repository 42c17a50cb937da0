"""hslib's on-device uint8 loader vs torchvision DataLoader + PIL transforms, same images and augmentations.

    python benchmarks/bench_loader.py [--n 10000] [--batch 128] [--workers 2]

Images: scikit-learn's digits upsampled to 32×32 RGB, tiled to --n images. Augmentation: random crop with
4-pixel zero padding, horizontal flip, ±15° rotation (the CIFAR-100 pipeline). Both produce float batches
in [0, 1]; the torchvision side uses its best setting here (DataLoader workers = --workers).
"""
import argparse
import sys
from pathlib import Path

from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds  # noqa: E402

from hslib.data import Loader, augmentation, load_dataset  # noqa: E402


class PILDataset(Dataset):
    def __init__(self, images, labels, transform):
        self.images = [Image.fromarray(x.permute(1, 2, 0).numpy()) for x in images]
        self.labels, self.transform = labels.tolist(), transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    x, y = load_dataset("digits")
    reps = -(-args.n // len(y))
    x, y = x.repeat(reps, 1, 1, 1)[: args.n], y.repeat(reps)[: args.n]

    ours = Loader(x, y, args.batch, train=True, seed=0, **augmentation("cifar100"))
    epoch = [0]

    def hslib_epoch():
        epoch[0] += 1
        for _ in ours.epoch(epoch[0]):
            pass

    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.RandomRotation(15), transforms.ToTensor()])
    results = {"hslib Loader (batched, uint8 in memory)": median_seconds(hslib_epoch, repeats=3)}
    for workers in sorted({0, args.workers}):
        dl = DataLoader(PILDataset(x, y, tf), batch_size=args.batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)

        def tv_epoch():
            for _ in dl:
                pass

        results[f"torchvision DataLoader + PIL ({workers} workers)"] = median_seconds(tv_epoch, repeats=3)
    best_tv = min(v for k, v in results.items() if k.startswith("torchvision"))
    ours_s = results["hslib Loader (batched, uint8 in memory)"]
    print("| loader | images/s |\n| --- | ---: |")
    for k, v in results.items():
        print(f"| {k} | {args.n / v:,.0f} |")
    print(f"\nspeed-up over the best torchvision setting: {best_tv / ours_s:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
