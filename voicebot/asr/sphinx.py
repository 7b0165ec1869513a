"""CMU PocketSphinx with its bundled US-English model: tiny and fast, weak on open speech but
precise on closed sets, so constrained prompts get a JSGF grammar (digits, yes/no, a list of
choices) and open speech the bundled trigram LM. Streams partial hypotheses."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Iterator


from voicebot.asr.base import FREE, Hints, register
from voicebot.asr.domain import apply_hints, grammar_phrases
from voicebot.audio.types import Audio
from voicebot.errors import ModelError
from voicebot.events import Transcript

CHUNK_SAMPLES = 4096  # feed the decoder in blocks, as a live call would
# Grammar searches get a phone insertion penalty: without it a click before a digit string is
# heard as an extra "eight" (cards/004 "five five" → "eight five five eight"); the same penalty
# costs the open-speech LM 7 points of WER, so grammars run on a second decoder.
GRAMMAR_OPTIONS = {"pip": 1e-3}


def jsgf(phrases: list[str], repeat: bool) -> str:
    """A JSGF grammar accepting one phrase, or (repeat) a sequence of them (digit strings)."""
    alternatives = " | ".join(phrases)
    body = "<item>+" if repeat else "<item>"
    return f"#JSGF V1.0;\ngrammar prompt;\n<item> = {alternatives};\npublic <answer> = {body};\n"


class SphinxRecognizer:
    name = "pocketsphinx"

    def __init__(self, model: str | None = None) -> None:
        import pocketsphinx

        options = {"loglevel": "FATAL"}
        if model:  # a model directory laid out like the bundled en-us one
            options.update(hmm=f"{model}/en-us", lm=f"{model}/en-us.lm.bin", dict=f"{model}/cmudict-en-us.dict")
        try:
            self._lm_decoder = pocketsphinx.Decoder(**options)
            self._grammar_decoder = pocketsphinx.Decoder(**options, **GRAMMAR_OPTIONS)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{model or 'bundled en-us model'}: cannot load PocketSphinx ({exc})") from None
        self._searches: set[str] = set()

    def transcribe(self, audio: Audio, hints: Hints = FREE) -> Transcript:
        pcm = audio.canonical()
        started = time.perf_counter()
        decoder = self._decoder_for(hints)
        # whole-utterance decoding: cepstral mean normalisation over the whole utterance is more
        # accurate than the live estimate streaming has to start from
        decoder.start_utt()
        decoder.process_raw(pcm.samples.tobytes(), False, True)
        decoder.end_utt()
        text = _clean(decoder.hyp().hypstr) if decoder.hyp() else ""
        return Transcript(apply_hints(text, hints), self.name, pcm.duration, time.perf_counter() - started)

    def partials(self, frames: Iterable[Audio], hints: Hints = FREE) -> Iterator[str]:
        decoder, last = self._decoder_for(hints), ""
        decoder.start_utt()
        try:
            for frame in frames:
                pcm = frame.canonical().samples
                for start in range(0, len(pcm), CHUNK_SAMPLES):
                    decoder.process_raw(pcm[start : start + CHUNK_SAMPLES].tobytes(), False, False)
                    hyp = decoder.hyp()
                    if hyp and _clean(hyp.hypstr) and _clean(hyp.hypstr) != last:
                        last = _clean(hyp.hypstr)
                        yield last
        finally:
            decoder.end_utt()
        final = _clean(decoder.hyp().hypstr) if decoder.hyp() else ""
        if final and final != last:
            yield final

    def _decoder_for(self, hints: Hints):
        """The decoder with the search the prompt calls for (each grammar is built once)."""
        phrases = [p for p in grammar_phrases(hints) if self._known(p)]
        if not phrases:
            return self._lm_decoder
        grammar = jsgf(phrases, repeat=hints.kind == "digits")
        name = "g" + hashlib.sha1(grammar.encode()).hexdigest()[:12]
        if name not in self._searches:
            try:
                self._grammar_decoder.add_jsgf_string(name, grammar)
            except ValueError as exc:
                raise ModelError(f"PocketSphinx grammar for {hints.kind!r} prompt is invalid ({exc})") from None
            self._searches.add(name)
        self._grammar_decoder.activate_search(name)
        return self._grammar_decoder

    def _known(self, phrase: str) -> bool:
        """Grammar words must be in the pronunciation dictionary; others are dropped."""
        words = re.findall(r"[a-z']+", phrase.lower())
        return bool(words) and all(self._lm_decoder.lookup_word(w) for w in words)


def _clean(text: str) -> str:
    return " ".join(re.sub(r"\(\d+\)", "", w) for w in text.split() if not w.startswith("<"))


@register("pocketsphinx")
def _factory(**options: object) -> SphinxRecognizer:
    return SphinxRecognizer(**options)  # type: ignore[arg-type]
