"""The two lens classifiers, in PyTorch (pure: no Django).

Built in the torchvision ``resnet.py`` manner: small layer helpers, block
classes, the network with ``_make_layer``, and one-line public builders.

- ``he2020_cnn``: He et al. 2020 Section 2 / Fig. 1 -- two unpadded 5x5
  convolutions with max-pooling and three fully connected layers, for 49x49
  inputs; 2,101,372 parameters with two outputs and one band.
- ``deeplens_resnet``: CMU DeepLens (Lanusse et al. 2018) as in its public
  code: a 7x7 stem and 15 pre-activated bottleneck units in 5 groups; 45x45
  inputs; 3,508,545 parameters for one band.

Both take ``(N, bands, H, W)`` float tensors and return logits: ``(N, 2)``
for the two-output CNN, ``(N,)`` for one-logit heads.
"""

import torch
from torch import nn

# Input geometry each network was designed for: stamp size (px) and the pixel
# scale (arcsec) stamps are resampled to. He et al. cut 97x97 KiDS stamps
# (0.21"/px) but feed 49x49: we bin 2x2, i.e. resample to 0.42"/px and crop
# 49x49 (20.6" across, the whole stamp). DeepLens: LSST-like 0.18"/px, 45x45.
ARCHITECTURES = {
    "he2020-cnn": {"size_px": 49, "pixscale_arcsec": 0.42},
    "deeplens-resnet": {"size_px": 45, "pixscale_arcsec": 0.18},
}


def conv1x1(in_channels, out_channels, stride=1, bias=False):
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)


def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def _check_bands(in_bands):
    if not isinstance(in_bands, int) or in_bands < 1:
        raise ValueError(f"in_bands must be a positive integer, not {in_bands!r}.")


class He2020CNN(nn.Module):
    """Conv 5x5 (20) + ReLU + max-pool 2; conv 5x5 (50) + ReLU + max-pool 2;
    FC 4050 -> 500 -> 100 -> outputs (ReLU between)."""

    input_size = 49

    def __init__(self, in_bands=1, num_outputs=2):
        super().__init__()
        _check_bands(in_bands)
        if num_outputs not in (1, 2):
            raise ValueError(
                f"num_outputs must be 1 (a logit) or 2 (two classes), not {num_outputs}."
            )
        self.num_outputs = num_outputs
        self.features = nn.Sequential(
            nn.Conv2d(in_bands, 20, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 49 -> 45 -> 22
            nn.Conv2d(20, 50, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # 22 -> 18 -> 9
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(50 * 9 * 9, 500), nn.ReLU(inplace=True),
            nn.Linear(500, 100), nn.ReLU(inplace=True),
            nn.Linear(100, num_outputs),
        )  # fmt: skip

    def forward(self, x):
        out = self.classifier(self.features(x))
        return out[:, 0] if self.num_outputs == 1 else out


class PreActBottleneck(nn.Module):
    """DeepLens unit: ``p = x if first else ELU(BN(x))``; branch 1x1 (no bias)
    BN ELU, 3x3 (no bias) BN ELU, 1x1 (bias); shortcut = 1x1 projection of
    ``p`` (with bias) where the shape changes, else ``x``."""

    def __init__(self, in_channels, bottleneck, out_channels, stride=1, first=False):
        super().__init__()
        self.first = first
        if not first:
            self.preact = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ELU(inplace=False))
        self.branch = nn.Sequential(
            conv1x1(in_channels, bottleneck, stride), nn.BatchNorm2d(bottleneck), nn.ELU(),
            conv3x3(bottleneck, bottleneck), nn.BatchNorm2d(bottleneck), nn.ELU(),
            conv1x1(bottleneck, out_channels, bias=True),
        )  # fmt: skip
        reshapes = stride != 1 or in_channels != out_channels
        self.projection = (
            conv1x1(in_channels, out_channels, stride, bias=True) if reshapes else None
        )

    def forward(self, x):
        p = x if self.first else self.preact(x)
        shortcut = self.projection(p) if self.projection is not None else x
        return self.branch(p) + shortcut


class DeepLensResNet(nn.Module):
    input_size = 45
    # (bottleneck, out) channels of the five groups of three units.
    groups = ((16, 32), (32, 64), (64, 128), (128, 256), (256, 512))
    units_per_group = 3

    def __init__(self, in_bands=1):
        super().__init__()
        _check_bands(in_bands)
        self.stem = nn.Sequential(
            nn.Conv2d(in_bands, 32, 7, padding=3, bias=False), nn.BatchNorm2d(32), nn.ELU()
        )
        channels = 32
        layers = []
        for g, (bottleneck, out) in enumerate(self.groups):
            layers.append(self._make_layer(channels, bottleneck, out, first_group=g == 0))
            channels = out
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 1)
        # He-normal initialisation, as the DeepLens code (Lasagne HeNormal).
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _make_layer(self, in_channels, bottleneck, out, first_group):
        # Groups 2-5 halve the resolution in their first unit.
        stride = 1 if first_group else 2
        units = [PreActBottleneck(in_channels, bottleneck, out, stride, first=first_group)]
        units += [PreActBottleneck(out, bottleneck, out) for _ in range(self.units_per_group - 1)]
        return nn.Sequential(*units)

    def features(self, x):
        return self.layers(self.stem(x))

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))[:, 0]


def he2020_cnn(in_bands=1, num_outputs=2):
    return He2020CNN(in_bands, num_outputs)


def deeplens_resnet(in_bands=1):
    return DeepLensResNet(in_bands)


BUILDERS = {"he2020-cnn": he2020_cnn, "deeplens-resnet": deeplens_resnet}


def build(architecture, in_bands=1):
    """A fresh network by name; ``ValueError`` naming the choices otherwise."""
    try:
        return BUILDERS[architecture](in_bands)
    except KeyError:
        raise ValueError(
            f"Unknown architecture {architecture!r}: choose {' or '.join(BUILDERS)}."
        ) from None


def lens_probability(logits):
    """P(lens) in [0, 1] from either head: softmax of two outputs, sigmoid of one."""
    if logits.ndim == 2 and logits.shape[1] == 2:
        return torch.softmax(logits, dim=1)[:, 1]
    return torch.sigmoid(logits.reshape(-1))


def count_parameters(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
