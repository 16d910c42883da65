"""The two networks: parameter counts of DESIGN.md, shapes, determinism."""

import pytest
import torch

from classifier.networks import (
    ARCHITECTURES,
    build,
    count_parameters,
    deeplens_resnet,
    he2020_cnn,
    lens_probability,
)


def test_the_he2020_cnn_has_2101372_parameters_for_two_outputs_and_one_band():
    assert count_parameters(he2020_cnn(1, 2)) == 2_101_372


def test_the_deeplens_resnet_has_3508545_parameters_for_one_band():
    assert count_parameters(deeplens_resnet(1)) == 3_508_545


@pytest.mark.parametrize("bands, batch", [(1, 1), (3, 5)])
def test_output_shapes(bands, batch):
    torch.manual_seed(0)
    assert he2020_cnn(bands)(torch.randn(batch, bands, 49, 49)).shape == (batch, 2)
    assert he2020_cnn(bands, 1)(torch.randn(batch, bands, 49, 49)).shape == (batch,)
    net = deeplens_resnet(bands).eval()
    x = torch.randn(batch, bands, 45, 45)
    assert net(x).shape == (batch,)
    assert net.features(x).shape == (batch, 512, 3, 3)  # 45x45 -> 3x3x512 before the pool


def test_extra_bands_add_only_first_layer_weights():
    assert count_parameters(he2020_cnn(3)) - count_parameters(he2020_cnn(1)) == 2 * 20 * 25
    assert (
        count_parameters(deeplens_resnet(3)) - count_parameters(deeplens_resnet(1)) == 2 * 32 * 49
    )


def test_the_registry_names_sizes_and_builds():
    assert ARCHITECTURES["he2020-cnn"]["size_px"] == 49
    assert ARCHITECTURES["deeplens-resnet"]["size_px"] == 45
    assert isinstance(build("deeplens-resnet", 2), torch.nn.Module)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: build("vgg16"),
            "Unknown architecture 'vgg16': choose he2020-cnn or deeplens-resnet",
        ),
        (lambda: he2020_cnn(0), "in_bands must be a positive integer"),
        (lambda: deeplens_resnet(1.5), "in_bands must be a positive integer"),
        (lambda: he2020_cnn(1, 3), "num_outputs must be 1"),
    ],
)
def test_it_refuses_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_same_seed_same_network():
    torch.manual_seed(3)
    a = deeplens_resnet()
    torch.manual_seed(3)
    b = deeplens_resnet()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_lens_probability_reads_either_head():
    two = torch.tensor([[0.0, 0.0], [0.0, 10.0]])
    assert torch.allclose(
        lens_probability(two), torch.tensor([0.5, 1 / (1 + torch.exp(torch.tensor(-10.0)))])
    )
    assert torch.allclose(
        lens_probability(torch.tensor([0.0, -20.0])), torch.tensor([0.5, 0.0]), atol=1e-8
    )
