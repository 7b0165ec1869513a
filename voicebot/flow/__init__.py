"""Call flows: YAML definition + validation, the engine (state + input → actions), escalation
policy, routing rules and Erlang C. Decides only; its one I/O is the Store Protocol."""

from voicebot.flow.actions import Action, Ask, Expect, Hangup, RecordVoicemail, Say, Transfer
from voicebot.flow.definition import Flow, flow_from_text, load_flow
from voicebot.flow.engine import CallEngine

__all__ = ["Action", "Ask", "CallEngine", "Expect", "Flow", "Hangup", "RecordVoicemail", "Say",
           "Transfer", "flow_from_text", "load_flow"]
