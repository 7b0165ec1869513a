"""Voice-activity detection: webrtcvad frames → speech start/end events and utterances."""

from voicebot.vad.endpointer import Endpointer, VadConfig, split_utterances

__all__ = ["Endpointer", "VadConfig", "split_utterances"]
