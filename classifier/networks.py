"""The two lens classifiers, in PyTorch (pure: no Django).

Built in the torchvision ``resnet.py`` manner: layer helpers (``conv1x1``,
``conv3x3``), block classes, networks with ``_make_layer``, and one-line
public builders that differ only in data.

- ``he2020_cnn``: He et al. 2020 Section 2 / Fig. 1: two unpadded 5x5
  convolutions with max-pooling, then three fully connected layers; 49x49
  inputs; 2,101,372 parameters with two outputs and one band.
- ``deeplens_resnet``: CMU DeepLens (Lanusse et al. 2018) as its public code
  builds it (``deeplens/resnet_classifier.py`` and ``blocks.py``), which
  differs from the paper's prose: a 7x7 stem, then 15 pre-activated
  bottleneck units in 5 groups of 3; 45x45 inputs; 3,508,545 trainable
  parameters for one band.

Both take ``(N, bands, H, W)`` float tensors, any number of bands, and return
logits: ``(N, 2)`` from the two-output CNN, ``(N,)`` from one-logit heads.
``lens_probability`` turns either into P(lens).
"""

import copy
import numbers

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def conv1x1(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1x1 convolution; ``bias=False`` where a BatchNorm follows."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with 'same' padding and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class MaxPool2x2(nn.MaxPool2d):
    """``nn.MaxPool2d(2)`` (floor mode) that, where no gradient is wanted,
    takes the maximum of the four strided views of each 2x2 block instead:
    the same values, 1.5-7x faster on a CPU than the pooling kernel for these
    small maps (channels_last bf16 above all). Training keeps the kernel,
    whose backward is the faster there."""

    def __init__(self):
        super().__init__(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return super().forward(x)
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :h, :w]
        rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
        return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def _check_bands(in_bands):
    if isinstance(in_bands, bool) or not isinstance(in_bands, numbers.Integral) or in_bands < 1:
        raise ValueError(f"in_bands must be a positive integer, not {in_bands!r}.")
    return int(in_bands)


class He2020CNN(nn.Module):
    """He et al. 2020: conv 5x5 (20) + ReLU, max-pool 2; conv 5x5 (50) + ReLU,
    max-pool 2; FC 4050 -> 500 -> 100 -> ``num_outputs`` with ReLU between.

    Each ReLU runs after its max-pool: ReLU is monotonic, so the two commute
    exactly, and it then touches a quarter of the values.

    Parameters
    ----------
    in_bands : int
        Number of image bands (input channels).
    num_outputs : {2, 1}
        2: two-class logits as in the paper (softmax); 1: a single lens logit.

    The paper states no initialisation, so PyTorch's layer defaults stand.
    """

    input_size = 49

    def __init__(self, in_bands=1, num_outputs=2):
        super().__init__()
        in_bands = _check_bands(in_bands)
        if num_outputs not in (1, 2):
            raise ValueError(
                f"num_outputs must be 1 (a logit) or 2 (two classes), not {num_outputs!r}."
            )
        self.num_outputs = num_outputs
        # Unpadded convolutions: 49 -> 45 -> pool 22 -> 18 -> pool 9.
        self.features = nn.Sequential(
            nn.Conv2d(in_bands, 20, 5),
            MaxPool2x2(),
            nn.ReLU(inplace=True),
            nn.Conv2d(20, 50, 5),
            MaxPool2x2(),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(50 * 9 * 9, 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, 100),
            nn.ReLU(inplace=True),
            nn.Linear(100, num_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            # The first fully connected layer fixes the size; say so rather
            # than fail with a matrix-shape error.
            raise ValueError(
                f"he2020-cnn takes {self.input_size}x{self.input_size} stamps, "
                f"not {x.shape[-2]}x{x.shape[-1]}."
            )
        out = self.classifier(self.features(x))
        return out[:, 0] if self.num_outputs == 1 else out


class PreActBottleneck(nn.Module):
    """One DeepLens unit (``pre_resnet_block`` of the DeepLens code).

    ``p = x if first else ELU(BN(x))``; branch: 1x1 (no bias, carries the
    stride) BN ELU, 3x3 (no bias) BN ELU, 1x1 (bias); shortcut: a 1x1
    projection of ``p`` (with bias, same stride) where the shape changes,
    else ``x`` itself; output = branch + shortcut.

    Parameters
    ----------
    in_channels, bottleneck, out_channels : int
        Channels in, inside the bottleneck, and out.
    stride : int
        2 in the first unit of groups 2-5, which halves the resolution.
    first : bool
        The network's first unit takes the stem's already activated output
        and skips its own pre-activation.
    """

    def __init__(self, in_channels, bottleneck, out_channels, stride=1, first=False):
        super().__init__()
        self.preact = (
            nn.Identity() if first else nn.Sequential(nn.BatchNorm2d(in_channels), nn.ELU())
        )
        self.branch = nn.Sequential(
            conv1x1(in_channels, bottleneck, stride),
            nn.BatchNorm2d(bottleneck),
            nn.ELU(),
            conv3x3(bottleneck, bottleneck),
            nn.BatchNorm2d(bottleneck),
            nn.ELU(),
            conv1x1(bottleneck, out_channels, bias=True),
        )
        # The network's first unit maps the stem's 32 channels to 32 at stride
        # 1, so it gets no projection: its shortcut is the identity, as in the
        # DeepLens code; a projection there would add 1,056 parameters to the
        # 3,508,545 that docs/design.md and the code give.
        reshapes = stride != 1 or in_channels != out_channels
        self.projection = (
            conv1x1(in_channels, out_channels, stride, bias=True) if reshapes else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.preact(x)
        shortcut = x if self.projection is None else self.projection(p)
        return self.branch(p) + shortcut


class DeepLensResNet(nn.Module):
    """CMU DeepLens: stem conv 7x7 -> 32 (no bias) BN ELU; five groups of three
    ``PreActBottleneck`` units; global average pool; linear 512 -> 1 logit.

    At 45x45 input the last group's feature map is 512 x 3 x 3. The logit
    goes through a sigmoid only at inference (``lens_probability``).

    Parameters
    ----------
    in_bands : int
        Number of image bands (input channels).
    """

    input_size = 45
    unit = PreActBottleneck
    units_per_group = 3
    stem_channels = 32
    # (bottleneck, out) channels of the five groups.
    groups = ((16, 32), (32, 64), (64, 128), (128, 256), (256, 512))

    def __init__(self, in_bands=1):
        super().__init__()
        in_bands = _check_bands(in_bands)
        self.stem = nn.Sequential(
            nn.Conv2d(in_bands, self.stem_channels, 7, padding=3, bias=False),
            nn.BatchNorm2d(self.stem_channels),
            nn.ELU(),
        )
        self.in_channels = self.stem_channels
        (g1, g2, g3, g4, g5) = self.groups
        self.layer1 = self._make_layer(*g1, stride=1, first=True)
        self.layer2 = self._make_layer(*g2, stride=2)
        self.layer3 = self._make_layer(*g3, stride=2)
        self.layer4 = self._make_layer(*g4, stride=2)
        self.layer5 = self._make_layer(*g5, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.in_channels, 1)

        # He-normal weights (He et al. 2015, fan-in, ReLU gain), as Lanusse et
        # al. 2018 Section 3.4 state and the DeepLens code (Lasagne
        # HeNormal(gain='relu')) uses; BatchNorm keeps unit scale, zero shift.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, bottleneck, out_channels, stride, first=False):
        units = [self.unit(self.in_channels, bottleneck, out_channels, stride, first=first)]
        units += [
            self.unit(out_channels, bottleneck, out_channels)
            for _ in range(self.units_per_group - 1)
        ]
        self.in_channels = out_channels
        return nn.Sequential(*units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer5(self.layer4(self.layer3(self.layer2(self.layer1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))[:, 0]


def he2020_cnn(in_bands: int = 1, num_outputs: int = 2) -> He2020CNN:
    """He et al. 2020 CNN for 49x49 stamps; ``num_outputs`` 2 (paper) or 1."""
    return He2020CNN(in_bands, num_outputs)


def deeplens_resnet(in_bands: int = 1) -> DeepLensResNet:
    """CMU DeepLens ResNet for 45x45 stamps, one logit."""
    return DeepLensResNet(in_bands)


# What each network expects: its builder, input stamp size (px) and input pixel
# scale (arcsec/px); a Preprocessor resamples any stamp to these.
# he2020-cnn: He et al. simulate 97x97 stamps at KiDS's 0.21"/px ("about 20 x
# 20 arcsec^2") but feed 49x49. Cropping 49x49 at 0.21"/px would keep only
# 10.3" and cut the arcs of the largest Einstein radii (up to 5"), so stamps
# are binned 2x2 instead (area-weighted resampling to 0.42"/px, 49 px =
# 20.6", the whole stamp). deeplens-resnet: LSST-like 45x45 at 0.18"/px.
ARCHITECTURES = {
    "he2020-cnn": {"builder": he2020_cnn, "size_px": 49, "pixscale_arcsec": 0.42},
    "deeplens-resnet": {"builder": deeplens_resnet, "size_px": 45, "pixscale_arcsec": 0.18},
}


def build(name: str, in_bands: int = 1) -> nn.Module:
    """A freshly initialised network by registry name.

    Parameters
    ----------
    name : str
        A key of ``ARCHITECTURES``.
    in_bands : int
        Number of image bands.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or a bad band count.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {name!r}: choose {' or '.join(ARCHITECTURES)}.")
    return ARCHITECTURES[name]["builder"](in_bands)


def for_inference(model: nn.Module) -> nn.Module:
    """An evaluation-mode copy of ``model`` with each BatchNorm that directly
    follows a convolution in a ``nn.Sequential`` folded into it (its running
    statistics and affine become the convolution's weights and bias): the
    same function, to float rounding, with one pass over each feature map
    fewer. The DeepLens stem and every bottleneck branch fold two or one;
    the pre-activation BatchNorms, whose input is also the shortcut, stay.
    ``model`` itself is left as it is (it may go on training)."""
    model = copy.deepcopy(model).eval()
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(conv, bn)
                seq[i + 1] = nn.Identity()
    return model


def lens_log_odds(logits: torch.Tensor) -> torch.Tensor:
    """log(P(lens) / P(non-lens)) from either head: ``l1 - l0`` for two-class
    logits, the logit itself for one. Unlike the probability it does not
    saturate: scores that would all round to 1.0 keep their order.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, 2)`` two-class logits or ``(N,)`` / ``(N, 1)`` lens logits.

    Returns
    -------
    torch.Tensor
        ``(N,)`` log-odds.
    """
    if logits.ndim == 2 and logits.shape[1] == 2:
        return logits[:, 1] - logits[:, 0]
    return logits.reshape(-1)


def lens_probability(logits: torch.Tensor) -> torch.Tensor:
    """P(lens) in [0, 1] from either head.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, 2)`` two-class logits (softmax, class 1 = lens) or ``(N,)`` /
        ``(N, 1)`` lens logits (sigmoid).

    Returns
    -------
    torch.Tensor
        ``(N,)`` probabilities.
    """
    if logits.ndim == 2 and logits.shape[1] == 2:
        return torch.softmax(logits, dim=1)[:, 1]
    if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1):
        return torch.sigmoid(logits.reshape(-1))
    raise ValueError(f"Expected logits of shape (N,), (N, 1) or (N, 2), not {tuple(logits.shape)}.")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
