"""Intent, out-of-scope, entity and sentiment understanding of caller turns.

    from voicebot.nlu import load_model
    nlu = load_model()              # newest model under models/ (trains one if none), once per process
    nlu.understand("what's my balance")  # -> voicebot.events.Understood
"""

from voicebot.nlu.runtime import Nlu, load_model

__all__ = ["Nlu", "load_model"]
