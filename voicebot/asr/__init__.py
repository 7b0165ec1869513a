"""Offline speech recognition behind one Protocol; backends are picked by name from a registry."""

from voicebot.asr.base import Hints, Recognizer, available_backends, get_recognizer

__all__ = ["Hints", "Recognizer", "available_backends", "get_recognizer"]
