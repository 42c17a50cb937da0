"""The four architectures as tables, and what follows from a table without building the network: the masked
layers' names and shapes, their dense forward FLOPs, and the parameter count.

hslib.models builds the torch modules from these same tables; planning and analysis (the compute estimate,
synthetic results) read the layer facts here, so they never import torch. tests/test_models.py checks every
registered model, width and image size against the built network and a traced forward pass.
"""
from __future__ import annotations

import math

from .vocabulary import MODELS

IMAGE_SIZES = (16, 32, 64)  # input sides the models take: CIFAR's 32, Tiny-ImageNet's 64, digits at 16 (course)

RESNET_BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}  # BasicBlocks per stage
RESNET_WIDTHS = (64, 128, 256, 512)
VGG_CONFIGS = {  # channels of each 3×3 conv, "M" = 2×2 max-pool
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512),
}


def channels(c: int, width: float) -> int:
    """A layer's channels at a width multiplier (at least one)."""
    return max(1, int(round(c * width)))


def _conv(name, cin, cout, k, out_hw):
    return {"name": name, "shape": (cout, cin, k, k), "flops": 2.0 * cin * k * k * cout * out_hw * out_hw}


def _linear(name, fin, fout):
    return {"name": name, "shape": (fout, fin), "flops": 2.0 * fin * fout}


def masked_layers(model: str, num_classes: int, width: float = 1.0, image_size: int = 32) -> list[dict]:
    """Every masked weight (conv and linear, in the network's parameter order): {name, shape, flops} with
    the dense forward FLOPs per image (one multiply-add = two FLOPs)."""
    family = MODELS[model].family
    if family == "resnet":
        c = [channels(w, width) for w in RESNET_WIDTHS]
        hw = image_size // 2 if image_size >= 64 else image_size  # a 64×64 input meets a 7×7 stride-2 stem
        layers = [_conv("conv1.weight", 3, c[0], 7 if image_size >= 64 else 3, hw)]
        cin = c[0]
        for stage, (blocks, cout) in enumerate(zip(RESNET_BLOCKS[model], c)):
            for b in range(blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                hw_out = (hw - 1) // stride + 1
                pre = f"layer{stage + 1}.{b}."
                layers += [_conv(pre + "conv1.weight", cin, cout, 3, hw_out), _conv(pre + "conv2.weight", cout, cout, 3, hw_out)]
                if stride != 1 or cin != cout:
                    layers.append(_conv(pre + "shortcut.0.weight", cin, cout, 1, hw_out))
                cin, hw = cout, hw_out
        return layers + [_linear("fc.weight", cin, num_classes)]
    layers, cin, hw, index = [], 3, image_size, 0
    for v in VGG_CONFIGS[model]:
        if v == "M":
            hw, index = (hw + 1) // 2, index + 1  # ceil mode: a 1×1 map stays 1×1
        else:
            cout = channels(v, width)
            layers.append(_conv(f"features.{index}.weight", cin, cout, 3, hw))
            cin, index = cout, index + 3  # conv, BatchNorm, ReLU
    if model == "vgg16":
        hidden = channels(512, width)
        return layers + [_linear("classifier.0.weight", cin, hidden), _linear("classifier.3.weight", hidden, hidden),
                         _linear("classifier.6.weight", hidden, num_classes)]
    return layers + [_linear("classifier.weight", cin, num_classes)]


def parameter_count(model: str, num_classes: int, width: float = 1.0, image_size: int = 32) -> int:
    """Every trainable parameter of the dense network: masked weights, biases and BatchNorm affine pairs."""
    layers = masked_layers(model, num_classes, width, image_size)
    total = sum(math.prod(layer["shape"]) for layer in layers)
    convs = [layer["shape"][0] for layer in layers if len(layer["shape"]) == 4]
    total += 2 * sum(convs)  # one BatchNorm after every conv (shortcuts included)
    if model == "vgg16":
        total += sum(convs)  # conv biases
        linears = [layer["shape"][0] for layer in layers if len(layer["shape"]) == 2]
        total += sum(linears) + 2 * sum(linears[:-1])  # biases, BatchNorm1d after the two hidden layers
    elif model == "vgg19":
        total += num_classes  # the classifier's bias
    return total
