"""The four architectures of the paper, CIFAR-style, with a width multiplier.

Every model takes images in [0, 1] and normalises them in its first layer (`Normalize`), so adversarial
attacks can clip to [0, 1] and corruptions work on raw pixels. `width` scales every channel count
(1.0 = the paper's models); small profiles use e.g. 0.125 to train on a CPU.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .architectures import IMAGE_SIZES, RESNET_BLOCKS, RESNET_WIDTHS, VGG_CONFIGS, channels as _ch
from .vocabulary import MODELS

# (mean, std) per channel that the first layer normalises with; unknown datasets fall back to 0.5 / 0.25.
# CIFAR-10, CIFAR-100 and Tiny-ImageNet: the constants of the paper's code, literally (its CIFAR-10 std is the
# widely copied (0.2023, 0.1994, 0.2010), not the true pixel std (0.2470, 0.2435, 0.2616); we keep the code's).
# digits (our embedded stand-in, not in the paper): measured on hslib.data.load_dataset("digits", split="train")
# as float in [0, 1], mean and population std over every pixel of every image, per channel (the three channels
# are the same grey image); tests/test_models.py re-measures them.
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "tinyimagenet": ((0.4802, 0.4481, 0.3975), (0.2302, 0.2265, 0.2262)),
    "digits": ((0.3058, 0.3058, 0.3058), (0.3240, 0.3240, 0.3240)),
}


class Normalize(nn.Module):
    """(x - mean) / std as the model's first layer; buffers so they follow .to(device)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:  # projection shortcut: 1x1 conv + BN (masked like every conv)
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with BasicBlocks. 16x16 and 32x32 inputs: 3x3 stride-1 stem, no max-pool (CIFAR style).
    64x64 inputs: 7x7 stride-2 stem, so the residual stages see the same 32x32 maps."""

    def __init__(self, blocks, num_classes: int, width: float = 1.0, image_size: int = 32, stats=None):
        super().__init__()
        mean, std = stats or ((0.5,) * 3, (0.25,) * 3)
        self.normalize = Normalize(mean, std)
        c = [_ch(w, width) for w in RESNET_WIDTHS]
        if image_size >= 64:
            self.conv1 = nn.Conv2d(3, c[0], 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0])
        layers, cin = [], c[0]
        for i, (n, cout) in enumerate(zip(blocks, c)):
            stage = []
            for j in range(n):
                stage.append(BasicBlock(cin, cout, 2 if (i > 0 and j == 0) else 1))
                cin = cout
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(c[3], num_classes, bias=False)
        self.initialise(again=False)

    def initialise(self, again: bool = True):
        """As the paper's code: every convolution (stem, blocks, 1x1 shortcuts) kaiming-normal over fan_in for
        ReLU, std = sqrt(2 / fan_in); BatchNorm and the Linear classifier keep PyTorch's defaults (drawn when
        they were built; `again` redraws them too, for a whole fresh initialisation from the global generator)."""
        for m in self.modules():
            if again and isinstance(m, (nn.BatchNorm2d, nn.Linear)):
                m.reset_parameters()
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(self.normalize(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))



class VGG(nn.Module):
    """VGG16: configuration D, convs with bias + BN + ReLU, classifier 512-512-512-C with ReLU + BatchNorm1d.
    VGG19: 16 convs without bias + BN + ReLU, global average pool, one Linear(512, C)."""

    def __init__(self, name: str, num_classes: int, width: float = 1.0, image_size: int = 32, stats=None):
        super().__init__()
        mean, std = stats or ((0.5,) * 3, (0.25,) * 3)
        self.normalize = Normalize(mean, std)
        conv_bias = name == "vgg16"
        feats, cin = [], 3
        for v in VGG_CONFIGS[name]:
            if v == "M":
                # ceil_mode: a 1×1 map (16×16 inputs reach it before VGG16's last pool) passes through unchanged;
                # on the even sizes of 32×32 and 64×64 inputs it pools exactly as floor mode does.
                feats.append(nn.MaxPool2d(2, ceil_mode=True))
            else:
                cout = _ch(v, width)
                feats += [nn.Conv2d(cin, cout, 3, padding=1, bias=conv_bias), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin = cout
        self.features = nn.Sequential(*feats)
        if name == "vgg16":
            hidden = _ch(512, width)
            self.classifier = nn.Sequential(
                nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.BatchNorm1d(hidden),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.BatchNorm1d(hidden),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.classifier = nn.Linear(cin, num_classes)
        self.name = name
        if name == "vgg19":
            self.initialise()

    def initialise(self, again: bool = True):
        """The paper's VGG19 initialisation: convolutions kaiming-normal over fan_out for ReLU (std =
        sqrt(2 / fan_out)), BatchNorm weight 1 / bias 0, Linear weight N(0, 0.01) with zero bias.
        VGG16 keeps PyTorch's defaults throughout, as in the paper's code (a second call redraws them)."""
        if self.name == "vgg16":
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Linear)):
                    m.reset_parameters()
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(self.normalize(x))
        # 32x32 VGG16 ends at 1x1; VGG19 (no last pool) and 64x64 inputs are averaged to 1x1.
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def _build(name, **kw):
    """The torch module of a registered model name, from its family's table (hslib.architectures)."""
    if MODELS[name].family == "resnet":
        return ResNet(RESNET_BLOCKS[name], **kw)
    return VGG(name, **kw)



def build_model(name: str, num_classes: int, width: float = 1.0, image_size: int = 32, dataset: str | None = None):
    """Build a registered model. `dataset` picks the normalisation statistics of the first layer."""
    MODELS[name]  # an unknown name raises the registry's error (it names every allowed model)
    if not (isinstance(num_classes, int) and num_classes >= 2):
        raise ValueError(f"num_classes={num_classes!r} must be an integer >= 2")
    if not width > 0:
        raise ValueError(f"width={width!r} must be > 0")
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size={image_size!r} is not supported; allowed values: {list(IMAGE_SIZES)}")
    return _build(name, num_classes=num_classes, width=width, image_size=image_size, stats=STATS.get(dataset))
