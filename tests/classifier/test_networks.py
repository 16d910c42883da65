"""The two networks: docs/design.md's parameter counts, shapes, registry, errors,
and the exact rewrites that make inference faster."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from classifier.networks import (
    ARCHITECTURES,
    MaxPool2x2,
    build,
    count_parameters,
    deeplens_resnet,
    for_inference,
    he2020_cnn,
    lens_probability,
)


def test_it_gives_the_he2020_cnn_2101372_parameters_for_two_outputs_and_one_band():
    assert count_parameters(he2020_cnn(1, 2)) == 2_101_372


def test_it_gives_the_deeplens_resnet_3508545_trainable_parameters_for_one_band():
    net = deeplens_resnet(1)
    assert count_parameters(net) == 3_508_545
    # The network's first unit (32 -> 32 channels, stride 1) has no projection.
    assert net.layer1[0].projection is None
    assert all(g[0].projection is not None for g in (net.layer2, net.layer3, net.layer4))


def test_extra_bands_add_only_first_layer_weights():
    assert count_parameters(he2020_cnn(3)) - count_parameters(he2020_cnn(1)) == 2 * 20 * 5 * 5
    assert count_parameters(deeplens_resnet(3)) - count_parameters(deeplens_resnet(1)) == (
        2 * 32 * 7 * 7
    )


@pytest.mark.parametrize("bands", [1, 3])
@pytest.mark.parametrize("batch", [1, 5])
def test_output_shapes_for_any_band_count_and_batch(bands, batch):
    torch.manual_seed(0)
    with torch.no_grad():
        assert he2020_cnn(bands).eval()(torch.randn(batch, bands, 49, 49)).shape == (batch, 2)
        assert he2020_cnn(bands, 1).eval()(torch.randn(batch, bands, 49, 49)).shape == (batch,)
        assert deeplens_resnet(bands).eval()(torch.randn(batch, bands, 45, 45)).shape == (batch,)


def test_the_resnet_sees_512x3x3_before_pooling_at_45x45():
    net = deeplens_resnet(2).eval()
    seen = {}
    net.avgpool.register_forward_hook(lambda module, inputs, output: seen.update(x=inputs[0]))
    with torch.no_grad():
        net(torch.randn(2, 2, 45, 45))
    assert seen["x"].shape == (2, 512, 3, 3)


def test_the_cnn_names_the_size_it_takes():
    with pytest.raises(ValueError, match="he2020-cnn takes 49x49 stamps, not 45x45"):
        he2020_cnn()(torch.zeros(1, 1, 45, 45))


def test_the_registry_builds_each_network_with_its_input_geometry():
    assert ARCHITECTURES["he2020-cnn"]["size_px"] == 49
    assert ARCHITECTURES["he2020-cnn"]["pixscale_arcsec"] == 0.42  # 0.21"/px binned 2x2
    assert ARCHITECTURES["deeplens-resnet"]["size_px"] == 45
    assert ARCHITECTURES["deeplens-resnet"]["pixscale_arcsec"] == 0.18
    for name, spec in ARCHITECTURES.items():
        net = build(name, 3).eval()
        size = spec["size_px"]
        with torch.no_grad():
            p = lens_probability(net(torch.randn(4, 3, size, size)))
        assert p.shape == (4,) and bool(((p >= 0) & (p <= 1)).all())


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: build("vgg16"),
            "Unknown architecture 'vgg16': choose he2020-cnn or deeplens-resnet",
        ),
        (lambda: build("he2020-cnn", 0), "in_bands must be a positive integer, not 0"),
        (lambda: he2020_cnn(-1), "in_bands must be a positive integer"),
        (lambda: deeplens_resnet(1.5), "in_bands must be a positive integer, not 1.5"),
        (lambda: deeplens_resnet(True), "in_bands must be a positive integer, not True"),
        (lambda: he2020_cnn(1, 3), "num_outputs must be 1 .* or 2 .*, not 3"),
    ],
)
def test_it_refuses_bad_arguments_at_construction(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_numpy_integer_band_counts_are_accepted():
    assert count_parameters(deeplens_resnet(np.int64(2))) > 3_508_545


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_the_same_seed_gives_the_same_network_and_scores(name):
    size = ARCHITECTURES[name]["size_px"]
    x = torch.randn(3, 1, size, size, generator=torch.Generator().manual_seed(1))
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        net = build(name).eval()
        with torch.no_grad():
            runs.append((net.state_dict(), net(x)))
    (a, ya), (b, yb) = runs
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(ya, yb)
    torch.manual_seed(4)
    assert not torch.equal(build(name).state_dict()[next(iter(a))], a[next(iter(a))])


def test_the_resnet_starts_from_he_normal_weights():
    torch.manual_seed(0)
    w = deeplens_resnet().layer5[1].branch[3].weight  # 3x3, 256 -> 256: fan-in 2304
    assert w.std().item() == pytest.approx((2 / (256 * 9)) ** 0.5, rel=0.02)
    assert abs(w.mean().item()) < 1e-3


def test_lens_probability_reads_either_head():
    two = torch.tensor([[0.0, 0.0], [0.0, 10.0], [3.0, -3.0]])
    assert torch.allclose(lens_probability(two), torch.sigmoid(two[:, 1] - two[:, 0]))
    one = torch.tensor([0.0, -20.0, 4.0])
    assert torch.allclose(lens_probability(one), torch.sigmoid(one))
    assert torch.allclose(lens_probability(one[:, None]), torch.sigmoid(one))
    with pytest.raises(ValueError, match=r"not \(3, 3\)"):
        lens_probability(torch.zeros(3, 3))


@pytest.mark.parametrize("size", [44, 45, 18, 9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_fast_2x2_max_pool_gives_the_kernel_values(size, dtype):
    x = torch.randn(3, 5, size, size + 1).to(dtype)
    for layout in (torch.contiguous_format, torch.channels_last):
        x = x.contiguous(memory_format=layout)
        with torch.no_grad():
            assert torch.equal(MaxPool2x2()(x), F.max_pool2d(x, 2))


def test_the_max_pool_trains_through_the_pooling_kernel():
    x = torch.randn(2, 3, 9, 9, requires_grad=True)
    MaxPool2x2()(x).sum().backward()
    grad = x.grad.clone()
    x.grad = None
    F.max_pool2d(x, 2).sum().backward()
    assert torch.equal(grad, x.grad)
    assert MaxPool2x2()(x).grad_fn.name().startswith("MaxPool2DWithIndices")


def test_the_cnn_pools_before_its_relus_with_the_papers_values():
    torch.manual_seed(0)
    model = build("he2020-cnn").eval()
    conv1, conv2 = model.features[0], model.features[3]
    x = torch.randn(8, 1, 49, 49)
    with torch.no_grad():
        # The paper's order: ReLU, then pool.
        h = F.max_pool2d(F.relu(conv1(x)), 2)
        h = F.max_pool2d(F.relu(conv2(h)), 2)
        assert torch.equal(model(x), model.classifier(h))


def _with_batchnorm_statistics(model, size):
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(3 * torch.randn(16, 1, size, size) + 1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.5, 0.5)
    return model


def test_for_inference_folds_batchnorms_into_convolutions_and_keeps_the_function():
    torch.manual_seed(0)
    model = _with_batchnorm_statistics(build("deeplens-resnet"), 45)
    folded = for_inference(model)
    after_conv = [
        m for seq in folded.modules() if isinstance(seq, torch.nn.Sequential)
        for a, m in zip(seq[:-1], seq[1:], strict=True) if isinstance(a, torch.nn.Conv2d)
    ]  # fmt: skip
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in after_conv)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    n_left = sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert (n_bn, n_left) == (45, 14)  # stem + 2 per unit folded; 14 pre-activations stay
    assert model.training and not folded.training  # the original is left as it was
    x = torch.randn(8, 1, 45, 45)
    model.eval()
    with torch.no_grad():
        expected = model(x)
        assert torch.allclose(folded(x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max())
