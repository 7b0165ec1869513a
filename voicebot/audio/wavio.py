"""Read any WAV a user will have (PCM 8/16/24/32, float, μ-law, A-law; any rate and channel count)
with libsndfile; write 16-bit PCM WAVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from voicebot.audio.types import Audio
from voicebot.audio.wavheader import check_header
from voicebot.cache import replaced_atomically
from voicebot.errors import AudioError

# What libsndfile raises on a file it cannot decode (MemoryError: a size field it believed).
_DECODE_ERRORS = (RuntimeError, sf.LibsndfileError, ValueError, MemoryError)

# What libsndfile decodes that a caller's recording may plausibly be in.
SUPPORTED_SUBTYPES = {
    "PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW",
    "IMA_ADPCM", "MS_ADPCM", "GSM610",
}


def read_wav(path: str | Path) -> Audio:
    """Load a WAV in its own rate and channels; raises AudioError naming the file and problem."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not a WAV file")
    try:
        if path.stat().st_size == 0:
            raise AudioError(f"{path}: empty file")
        header = check_header(path)
        info = sf.info(str(path))
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ({exc.strerror})") from None
    except _DECODE_ERRORS as exc:
        raise AudioError(f"{path}: unreadable WAV ({_short(exc)})") from None
    if (info.channels, info.samplerate) != (header.channels, header.rate):
        raise AudioError(f"{path}: WAV header is inconsistent ({header.channels} channels at "
                         f"{header.rate} Hz, decoder sees {info.channels} at {info.samplerate})")
    if info.subtype not in SUPPORTED_SUBTYPES:
        raise AudioError(f"{path}: unsupported WAV encoding {info.subtype} ({info.subtype_info})")
    try:
        # libsndfile does not scale float files to the int range on integer reads.
        as_float = info.subtype in ("FLOAT", "DOUBLE")
        data, rate = sf.read(str(path), dtype="float32" if as_float else "int16", always_2d=True)
    except (OSError, *_DECODE_ERRORS) as exc:
        raise AudioError(f"{path}: truncated or corrupt WAV ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: WAV holds no audio samples (truncated or empty)")
    if data.shape[1] == 1:
        data = data[:, 0]
    if as_float:
        return Audio.from_float(data, int(rate))
    return Audio(np.ascontiguousarray(data), int(rate), 1 if data.ndim == 1 else data.shape[1])


def write_wav(path: str | Path, audio: Audio, subtype: str = "PCM_16") -> Path:
    """Written to a temporary name and renamed, so a crash never leaves half a WAV at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp:
        sf.write(str(tmp), audio.samples, audio.rate, subtype=subtype, format="WAV")
    return path


def is_silent(audio: Audio, threshold_dbfs: float = -55.0) -> bool:
    """True when the whole recording stays below `threshold_dbfs` RMS (a dead line)."""
    if audio.num_samples == 0:
        return True
    rms = float(np.sqrt(np.mean(audio.to_float().astype(np.float64) ** 2)))
    return rms <= 10 ** (threshold_dbfs / 20.0)


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1][:160]
