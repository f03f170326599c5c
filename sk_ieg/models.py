"""Default networks, built from the data when ``module=None``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from sk_ieg._typing import Tensor

__all__ = ["MLP", "ResNetSmall", "SmallCNN"]


class MLP(nn.Module):
    """Multi-layer perceptron: ``[Linear -> BatchNorm -> ReLU] * L -> Linear``.

    Parameters
    ----------
    n_features : int
    n_classes : int
    hidden_units : sequence of int, default=(128, 128)
        Small by default: wider layers memorise more of the noisy labels (on digits
        at 80% noise, (512, 512) lost about 10 points against (256, 256)).
    dropout : float, default=0.0
    batch_norm : bool, default=True
        ``False`` drops the BatchNorm layers: a plain ``[Linear -> ReLU] * L -> Linear``.
    """

    def __init__(self, n_features: int, n_classes: int, hidden_units: Sequence[int] = (128, 128),
                 dropout: float = 0.0, batch_norm: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden_units:
            layers += [nn.Linear(width, h), *([nn.BatchNorm1d(h)] if batch_norm else []), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetSmall(nn.Module):
    """A small residual CNN for (N, C, H, W) images.

    A 3x3 stem, then one basic residual block per stage (the first at stride 1,
    the others at stride 2), global average pooling and a linear head. The
    default widths (32, 64, 128) keep a 28x28 epoch affordable on a CPU; the
    paper uses WRN-28-10 / ResNet-29 on GPUs.

    Parameters
    ----------
    in_channels : int
    n_classes : int
    widths : sequence of int, default=(32, 64, 128)
    """

    def __init__(self, in_channels: int, n_classes: int, widths: Sequence[int] = (32, 64, 128)):
        super().__init__()
        widths = list(widths)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks = []
        c = widths[0]
        for i, w in enumerate(widths):
            blocks.append(_BasicBlock(c, w, stride=1 if i == 0 else 2))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)).mean(dim=(2, 3)))


class SmallCNN(nn.Module):
    """A two-convolution network for small grey or colour images on a CPU.

    ``conv5x5(stride 2) -> BN -> ReLU -> conv3x3(stride 2) -> BN -> ReLU``, then a
    head. With ``head_units=None`` the head is a global average pool and one
    ``Linear`` (about 1M multiply-adds per 28x28 image, some 30 times cheaper than
    :class:`ResNetSmall`; 650 parameters in the head). With an int the feature map is
    average-pooled to a ``grid x grid`` map (the identity for 28x28 inputs), flattened
    and passed through ``Linear(head_units) -> BN -> ReLU -> Linear``: the classic
    small CNN, some 40% more compute and 400k parameters in the head.

    The two behave differently under label noise. The pooled head has too few
    parameters to memorise wrong labels within a short budget, so plain training
    on noisy labels stays close to clean training (Fashion-MNIST, 10,000 images,
    40% uniform noise, 30 epochs, mean of 2 seeds: 0.820 against 0.856). The fully
    connected head learns more (0.882 clean) and memorises the noise, as the large
    networks of the paper do (0.675 at 40%). See the README's Benchmarks section
    (``benchmarks/results/fashion_uniform`` and ``fashion_uniform_fc``).

    Parameters
    ----------
    in_channels : int
    n_classes : int
    widths : sequence of two int, default=(32, 64)
    head_units : int or None, default=None
        Width of the fully connected hidden layer; None for the pooled head.
    grid : int, default=7
        Side of the pooled feature map fed to the fully connected head (ignored
        when ``head_units`` is None).
    """

    def __init__(self, in_channels: int, n_classes: int, widths: Sequence[int] = (32, 64),
                 head_units: int | None = None, grid: int = 7):
        super().__init__()
        w1, w2 = widths
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w1, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(w1),
            nn.ReLU(),
            nn.Conv2d(w1, w2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w2), nn.ReLU())
        self.pool: nn.Module
        if head_units is None:
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.head = nn.Linear(w2, n_classes)
        else:
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten())
            self.head = nn.Sequential(
                nn.Linear(w2 * grid * grid, head_units, bias=False), nn.BatchNorm1d(head_units),
                nn.ReLU(), nn.Linear(head_units, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.features(x)))
