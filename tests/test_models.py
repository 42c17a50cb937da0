import pytest
import torch

from hslib.models import MODELS, build_model

# (image size, classes) of every dataset the study uses
SHAPES = {"digits": (32, 10), "cifar10": (32, 10), "cifar100": (32, 100), "tinyimagenet": (64, 200)}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("dataset", sorted(SHAPES))
def test_every_model_trains_on_every_dataset_shape(name, dataset):
    size, classes = SHAPES[dataset]
    torch.manual_seed(0)
    model = build_model(name, classes, width=0.125, image_size=size, dataset=dataset)
    x = torch.rand(4, 3, size, size)
    out = model(x)
    assert out.shape == (4, classes)
    out.logsumexp(1).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name,classes,params", [
    # Full-width parameter counts pin the architectures of docs/design.md#models (ResNet18: the well-known
    # 11,173,962 of the CIFAR ResNet18 minus the 10 classifier biases it does not have).
    ("resnet18", 10, 11_173_952), ("resnet34", 10, 21_282_112),
    ("vgg16", 10, 15_255_626), ("vgg19", 10, 20_035_018), ("resnet18", 100, 11_220_032)])
def test_full_width_parameter_counts(name, classes, params):
    assert sum(p.numel() for p in build_model(name, classes).parameters()) == params


def test_tiny_imagenet_stem_reaches_cifar_sized_maps():
    m = build_model("resnet18", 200, image_size=64)
    assert m.conv1.kernel_size == (7, 7) and m.conv1.stride == (2, 2)
    feats = m.layer1(torch.relu(m.bn1(m.conv1(m.normalize(torch.rand(1, 3, 64, 64))))))
    assert feats.shape[-1] == 32  # same spatial size as the CIFAR stem gives for 32x32 inputs


def test_normalisation_is_the_first_layer():
    m = build_model("vgg19", 100, dataset="cifar100")
    x = torch.full((1, 3, 32, 32), 0.5071)
    assert torch.allclose(m.normalize(x)[0, 0], torch.zeros(32, 32), atol=1e-6)


def test_width_scales_channels_and_classifier_has_no_bias():
    m = build_model("resnet18", 10, width=0.25)
    assert m.conv1.out_channels == 16 and m.fc.in_features == 128 and m.fc.bias is None
    v = build_model("vgg16", 10, width=0.5)
    assert v.classifier[0].out_features == 256 and v.features[0].bias is not None
    assert build_model("vgg19", 10).features[0].bias is None


@pytest.mark.parametrize("kwargs,needle", [
    ({"name": "resnet50", "num_classes": 10}, "model='resnet50'"),
    ({"name": "vgg16", "num_classes": 1}, "num_classes=1"),
    ({"name": "vgg16", "num_classes": 10, "width": 0}, "width=0"),
    ({"name": "vgg16", "num_classes": 10, "image_size": 28}, "image_size=28"),
])
def test_bad_model_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        build_model(**kwargs)
