"""G.711 μ-law and A-law (ITU-T G.711), vectorised with numpy. Used by SIP/RTP and tests.

Encoding is a lookup in a table of every 16-bit sample's code (64 KiB per law), built once from
the arithmetic below: a call's every 20 ms packet is encoded on its audio path, and the table is
~10x cheaper per packet than the arithmetic (log2, clips, several temporaries)."""

from __future__ import annotations

import numpy as np

_BIAS = 0x84
_CLIP = 32635


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()


def _ulaw_encode_arith(pcm: np.ndarray) -> bytes:
    x = pcm.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    x = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.floor(np.log2(np.maximum(x, 1))).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (x >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def _alaw_encode_arith(pcm: np.ndarray) -> bytes:
    x = pcm.astype(np.int32)
    sign = np.where(x >= 0, 0x80, 0)
    x = np.minimum(np.where(x < 0, -x - 1, x), 32767) >> 3  # 13-bit magnitude
    exponent = np.clip(np.floor(np.log2(np.maximum(x, 1))).astype(np.int32) - 4, 0, 7)
    mantissa = np.where(exponent == 0, x >> 1, x >> exponent) & 0x0F
    return (((sign | (exponent << 4) | mantissa) ^ 0x55) & 0xFF).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> np.ndarray:
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def _encode_table(encode) -> np.ndarray:
    """The code of every int16 sample, indexed by the sample's bits read as uint16."""
    every = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16)
    return np.frombuffer(encode(every), dtype=np.uint8).copy()


_ULAW_ENCODE = _encode_table(_ulaw_encode_arith)
_ALAW_ENCODE = _encode_table(_alaw_encode_arith)


def ulaw_encode(pcm: np.ndarray) -> bytes:
    if pcm.dtype != np.int16:  # wider samples clip in the arithmetic; the table has int16 only
        return _ulaw_encode_arith(pcm)
    return _ULAW_ENCODE[np.ascontiguousarray(pcm).view(np.uint16)].tobytes()


def alaw_encode(pcm: np.ndarray) -> bytes:
    if pcm.dtype != np.int16:
        return _alaw_encode_arith(pcm)
    return _ALAW_ENCODE[np.ascontiguousarray(pcm).view(np.uint16)].tobytes()
