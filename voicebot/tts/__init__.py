"""Offline text-to-speech behind one Protocol: Piper (neural, default) and pyttsx3 (fallback)."""

from voicebot.tts.base import Synthesizer, available_voices, get_synthesizer

__all__ = ["Synthesizer", "available_voices", "get_synthesizer"]
