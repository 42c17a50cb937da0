"""FLOPs and parameter counts on a tiny model, every number derived by hand."""
import pytest
import torch
from torch import nn

from hslib.flops import dense_layer_flops, forward_flops, nonzero_params


def tiny():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),                           # 0: 3x3, no padding
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2, padding=1),      # 2: strided
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=4),      # 4: grouped, 2 input channels per group
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),                             # 7
    )


def test_dense_flops_of_each_layer_by_hand():
    # One multiply-add = 2 FLOPs; a conv costs 2 · C_in/groups · k_h · k_w per output value.
    # 8x8 input:
    #   0: output 4 x 6 x 6 (8 − 3 + 1 = 6):           2 · 3·3·3 · 4·36 = 2 · 27 · 144 = 7,776
    #   2: output 8 x 3 x 3 ((6 + 2 − 3) // 2 + 1 = 3): 2 · 4·3·3 · 8·9  = 2 · 36 · 72  = 5,184
    #   4: output 8 x 3 x 3, 8/4 = 2 inputs per output: 2 · 2·3·3 · 8·9  = 2 · 18 · 72  = 2,592
    #   7: 2 · 8 · 10 = 160
    model = tiny().train()
    flops = dense_layer_flops(model, 8)
    assert flops == {"0.weight": 7776.0, "2.weight": 5184.0, "4.weight": 2592.0, "7.weight": 160.0}
    assert model.training  # the traced pass leaves the mode as it was
    assert not any(m._forward_hooks for m in model.modules())  # and removes its hooks
    # 16x16 input: 14x14 = 196 and (14 + 2 − 3) // 2 + 1 = 7, 7x7 = 49 outputs per channel.
    flops16 = dense_layer_flops(model, 16)
    assert flops16 == {"0.weight": 2 * 27 * 4 * 196, "2.weight": 2 * 36 * 8 * 49, "4.weight": 2 * 18 * 8 * 49,
                       "7.weight": 160.0}
    assert sum(flops16.values()) == 42_336 + 28_224 + 14_112 + 160 == 84_832


def test_sparse_forward_flops_and_parameters_by_hand():
    model = tiny()
    flops = dense_layer_flops(model, 8)
    density = {"0.weight": 0.5, "2.weight": 0.25, "7.weight": 0.1}  # layer 4 not listed: dense
    # 7,776·0.5 + 5,184·0.25 + 2,592·1 + 160·0.1 = 3,888 + 1,296 + 2,592 + 16
    assert forward_flops(flops, density) == pytest.approx(7792.0)
    assert forward_flops(flops, {}) == 15_712.0  # dense: 7,776 + 5,184 + 2,592 + 160
    # Weights 108, 288, 8·2·3·3 = 144, 80 keep round(54), round(72), 144, round(8); biases 4 + 8 + 8 + 10 = 30
    # are never masked: 54 + 72 + 144 + 8 + 30 = 308 (dense: 620 + 30 = 650).
    assert nonzero_params(model, density) == 308
    assert nonzero_params(model, {}) == sum(p.numel() for p in model.parameters()) == 650
