"""Check a WAV's RIFF header before libsndfile decodes it.

libsndfile is forgiving where a caller's recording must not be: it reads a header claiming 3 bits
per sample as 8-bit audio, trusts a block size that contradicts the sample width, and returns the
few samples present when the data chunk claims a gigabyte. Any of those is a broken file, and
transcribing it as noise (or nothing) with exit 0 hides the problem. This module reads only the
header chunks and raises AudioError naming the file and what is wrong."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from voicebot.errors import AudioError

# format tag → (name, sample widths in bits that the encoding allows; None = codec-defined)
FORMATS: dict[int, tuple[str, frozenset[int] | None]] = {
    0x0001: ("PCM", frozenset({8, 16, 24, 32})),
    0x0003: ("IEEE float", frozenset({32, 64})),
    0x0006: ("A-law", frozenset({8})),
    0x0007: ("mu-law", frozenset({8})),
    0x0002: ("MS ADPCM", None),
    0x0011: ("IMA ADPCM", None),
    0x0031: ("GSM 6.10", None),
}
# Encodings seen in the wild that the pipeline does not decode, named in the error message.
UNSUPPORTED = {0x0040: "G721_32", 0x0014: "G723", 0x0050: "MPEG", 0x0055: "MP3", 0x0161: "WMA",
               0x00FF: "AAC", 0x0022: "TrueSpeech", 0x0045: "G726", 0x0092: "AC3"}
EXTENSIBLE = 0xFFFE
STREAMING_SIZE = 0xFFFFFFFF  # writers that cannot seek back leave the size at its maximum
MAX_RATE = 384_000
MAX_CHANNELS = 64
MAX_SECONDS = 4 * 3600  # longer than any call; guards memory against a huge file
MAX_CHUNKS = 64  # a header with more chunks before 'data' is garbage, not a recording


@dataclass(frozen=True)
class WavHeader:
    encoding: str
    channels: int
    rate: int
    bits: int
    data_bytes: int  # as claimed by the header (STREAMING_SIZE for "until end of file")


def check_header(path: Path) -> WavHeader:
    """The header's fmt and data facts, or AudioError when the header is inconsistent, cut short or
    claims more audio than the file holds."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX", b"RF64") or head[8:12] != b"WAVE":
            raise AudioError(f"{path}: not a WAV file (no RIFF/WAVE header)")
        order = ">" if head[:4] == b"RIFX" else "<"
        fmt: bytes | None = None
        ds64_data: int | None = None
        for _ in range(MAX_CHUNKS):
            chunk = fh.read(8)
            if len(chunk) < 8:
                where = "its 'fmt ' chunk" if fmt is None else "its audio data"
                raise AudioError(f"{path}: WAV header cut short before {where} (no 'data' chunk)")
            cid, csize = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if cid == b"data":
                if fmt is None:
                    raise AudioError(f"{path}: 'data' chunk comes before any 'fmt ' chunk")
                header = _parse_fmt(path, fmt, order, csize if ds64_data is None else ds64_data)
                return _check_sizes(path, header, size - fh.tell())
            if csize > size:
                raise AudioError(f"{path}: chunk {_name(cid)} claims {csize} bytes, more than the "
                                 f"whole file ({size} bytes)")
            body = fh.read(csize + (csize & 1))  # chunks are padded to an even length
            if len(body) < csize:
                raise AudioError(f"{path}: WAV header cut short inside chunk {_name(cid)}")
            if cid == b"fmt ":
                fmt = body[:csize]
            elif cid == b"ds64" and len(body) >= 16:  # RF64: the real 64-bit data size
                ds64_data = struct.unpack("<Q", body[8:16])[0]
    raise AudioError(f"{path}: no 'data' chunk within the first {MAX_CHUNKS} chunks")


def _parse_fmt(path: Path, fmt: bytes, order: str, data_bytes: int) -> WavHeader:
    if len(fmt) < 16:
        raise AudioError(f"{path}: 'fmt ' chunk is {len(fmt)} bytes, a WAV needs at least 16")
    tag, channels, rate, _byte_rate, block, bits = struct.unpack(order + "HHIIHH", fmt[:16])
    if tag == EXTENSIBLE:
        if len(fmt) < 26:
            raise AudioError(f"{path}: extensible 'fmt ' chunk is cut short")
        tag = struct.unpack(order + "H", fmt[24:26])[0]  # first two bytes of the sub-format GUID
    if tag not in FORMATS:
        name = UNSUPPORTED.get(tag, "unknown")
        raise AudioError(f"{path}: unsupported WAV encoding {name} (format tag 0x{tag:04x}); "
                         "use PCM, float, mu-law or A-law")
    name, widths = FORMATS[tag]
    if channels == 0 or channels > MAX_CHANNELS:
        raise AudioError(f"{path}: WAV header claims {channels} channels")
    if rate == 0 or rate > MAX_RATE:
        raise AudioError(f"{path}: WAV header claims a sample rate of {rate} Hz")
    if widths is not None:
        if bits not in widths:
            allowed = ", ".join(str(w) for w in sorted(widths))
            raise AudioError(f"{path}: WAV header claims {bits} bits per sample, {name} WAVs use {allowed}")
        if block != channels * bits // 8:
            raise AudioError(f"{path}: WAV header is inconsistent: {block}-byte frames for {channels} "
                             f"channel(s) of {bits}-bit {name}")
    return WavHeader(name, channels, rate, bits, data_bytes)


def _check_sizes(path: Path, header: WavHeader, remaining: int) -> WavHeader:
    claimed = header.data_bytes
    if claimed == STREAMING_SIZE:
        claimed = remaining
    if claimed == 0 or remaining == 0:
        raise AudioError(f"{path}: WAV holds no audio samples (0 frames)")
    frame = max(header.channels * header.bits // 8, 1)
    if claimed > remaining + frame:
        raise AudioError(f"{path}: WAV header claims {_human(claimed)} of audio data but the file holds "
                         f"{_human(remaining)} (truncated, or the header lies)")
    if header.bits and claimed / frame / header.rate > MAX_SECONDS:
        raise AudioError(f"{path}: {claimed / frame / header.rate / 3600:.1f} hours of audio; "
                         f"the limit is {MAX_SECONDS // 3600} hours")
    return header


def _name(cid: bytes) -> str:
    return repr(cid.decode("latin-1"))


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
