"""voicebot: an offline voice-bot IVR (VAD → ASR → NLU → call flow → TTS → call record)."""

__version__ = "0.1.0"
