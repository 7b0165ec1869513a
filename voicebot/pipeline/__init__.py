"""One call's path: frames → VAD → ASR → NLU → flow engine → TTS. The same `Session` runs a
replayed WAV, a microphone and a SIP call; a transport only moves frames in and audio out."""

from voicebot.pipeline.session import Session
from voicebot.pipeline.stack import Stack

__all__ = ["Session", "Stack"]
