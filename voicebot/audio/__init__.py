"""Audio in and out: one `Audio` type, WAV reading in any encoding, G.711, resampling, framing."""

from voicebot.audio.types import CANONICAL_RATE, Audio
from voicebot.audio.wavio import read_wav, write_wav

__all__ = ["Audio", "CANONICAL_RATE", "read_wav", "write_wav"]
