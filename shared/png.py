"""PNG encode/decode with stdlib zlib + numpy, so GLB textures work without Pillow (e.g. in Blender).

Decoding covers what texture tools write: 8/16-bit grey, grey+alpha, RGB, RGBA and 8-bit palette
images, not interlaced. Everything comes back as uint8 (H,W,4) RGBA, row 0 at the top.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class PNGError(ValueError):
    """The bytes are not a PNG this decoder supports."""


def encode_png(rgba: np.ndarray, level: int = 6) -> bytes:
    """Encode a uint8 (H,W,4) or (H,W,3) image as PNG bytes (row 0 at the top)."""
    image = np.ascontiguousarray(rgba, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] == 0 or image.shape[1] == 0:
        raise PNGError(f"need a non-empty (H,W,3|4) uint8 image, got {image.shape}")
    height, width, channels = image.shape
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # filter byte 0 (None) per row
    rows[:, 1:] = image.reshape(height, -1)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if channels == 4 else 2, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + \
        _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decode_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes to uint8 (H,W,4) RGBA. Raises PNGError on anything unsupported or corrupt."""
    if not data.startswith(SIGNATURE):
        raise PNGError("not a PNG file (bad signature)")
    pos, header, palette, alpha, idat = len(SIGNATURE), None, None, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise PNGError("truncated PNG chunk")
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            alpha = np.frombuffer(body, dtype=np.uint8)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None or not idat:
        raise PNGError("PNG has no IHDR or no image data")
    width, height, depth, color, _, _, interlace = header
    if color not in _CHANNELS or depth not in (8, 16) or (color == 3 and depth != 8):
        raise PNGError(f"unsupported PNG colour type {color} / bit depth {depth}")
    if interlace:
        raise PNGError("interlaced PNGs are not supported; re-save without interlacing")
    if width == 0 or height == 0 or width * height > 16384 * 16384:
        raise PNGError(f"PNG size {width}x{height} out of range")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise PNGError(f"corrupt PNG data: {exc}") from None
    channels = _CHANNELS[color]
    bpp = channels * depth // 8
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise PNGError("PNG data length does not match its size")
    pixels = _unfilter(np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1), bpp)
    if depth == 16:
        pixels = pixels.reshape(height, width * channels, 2)[:, :, 0]  # keep the high byte
    pixels = pixels.reshape(height, width, channels)
    return _to_rgba(pixels, color, palette, alpha)


def _unfilter(rows: np.ndarray, bpp: int) -> np.ndarray:
    filters, data = rows[:, 0], rows[:, 1:].astype(np.int32)
    out = np.zeros_like(data)
    prior = np.zeros(data.shape[1], dtype=np.int32)
    for y in range(len(data)):
        line, kind = data[y], filters[y]
        if kind == 0:
            recon = line
        elif kind == 1:  # Sub: running sum per channel
            recon = (np.cumsum(line.reshape(-1, bpp), axis=0) & 255).reshape(-1)
        elif kind == 2:  # Up
            recon = (line + prior) & 255
        elif kind in (3, 4):
            recon = _sequential(line, prior, bpp, kind)
        else:
            raise PNGError(f"bad PNG filter type {kind}")
        out[y] = recon
        prior = recon
    return out.astype(np.uint8)


def _sequential(line: np.ndarray, prior: np.ndarray, bpp: int, kind: int) -> np.ndarray:
    """Average (3) and Paeth (4) filters depend on the pixel to the left: one pixel at a time."""
    recon = np.zeros_like(line)
    left = np.zeros(bpp, dtype=np.int32)
    upleft = np.zeros(bpp, dtype=np.int32)
    for x in range(0, len(line), bpp):
        up = prior[x:x + bpp]
        if kind == 3:
            value = (line[x:x + bpp] + ((left + up) >> 1)) & 255
        else:
            p = left + up - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
            value = (line[x:x + bpp] + pred) & 255
        recon[x:x + bpp] = value
        left, upleft = value, up
    return recon


def _to_rgba(pixels: np.ndarray, color: int, palette, alpha) -> np.ndarray:
    height, width, _ = pixels.shape
    rgba = np.full((height, width, 4), 255, dtype=np.uint8)
    if color == 3:
        if palette is None:
            raise PNGError("palette PNG without a PLTE chunk")
        index = pixels[:, :, 0]
        if index.max(initial=0) >= len(palette):
            raise PNGError("palette index out of range")
        rgba[:, :, :3] = palette[index]
        if alpha is not None:
            table = np.full(len(palette), 255, dtype=np.uint8)
            table[:min(len(alpha), len(palette))] = alpha[:len(palette)]
            rgba[:, :, 3] = table[index]
    elif color in (0, 4):
        rgba[:, :, :3] = pixels[:, :, :1]
        if color == 4:
            rgba[:, :, 3] = pixels[:, :, 1]
    else:
        rgba[:, :, :_CHANNELS[color]] = pixels
    return rgba
