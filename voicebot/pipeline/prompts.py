"""Bot prompts as audio. Fixed prompts are rendered ahead of time and cached on disk by
text + voice + rate, so only dynamic text (a balance) is synthesized during a call, and that
sentence by sentence so the first audio can start early.

Customer data never reaches the disk cache (or outlives the sentence in memory): only a sentence
the flow proves public — fixed text, or a template filled only from the flow's own data (queue
labels, waits, hours) — is kept. Anything else (a name, a balance, card digits, an unknown text)
is personal: synthesized for the call and dropped."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from voicebot.audio import Audio, read_wav, write_wav
from voicebot.cache import cache_dir
from voicebot.errors import AudioError
from voicebot.flow.hours import describe
from voicebot.flow.templates import PUBLIC_VARS, fields, keypad_menu, templates
from voicebot.tts import get_synthesizer
from voicebot.tts.base import clause_cuts, first_clause, sentences, trim_silence


# Piper logs every text it speaks at DEBUG; prompts carry names and balances, and a DEBUG log is
# kept and shipped like any other file, so that logger never goes below INFO.
logging.getLogger("piper").setLevel(logging.INFO)


class PublicText:
    """Which rendered sentences may be cached: the flow's fixed sentences, and sentences of
    templates whose variables are all public — unless they also fit a personal template."""

    def __init__(self) -> None:
        self.fixed: set[str] = set()
        self.public: list[re.Pattern[str]] = []
        self.personal: list[re.Pattern[str]] = []
        self.openings: set[str] = set()  # fixed first clauses of personal templates
        self.known: list[str] = []  # templates filled with values the flow itself fixes (its hours)

    @classmethod
    def of_flow(cls, flow: object) -> PublicText:
        policy = cls()
        spec = getattr(flow, "spec", flow)
        values = {"hours": sorted({describe(h) for h in spec.hours.values()})}  # what {hours} can say
        for _loc, text, _allowed in templates(spec):
            names = set(fields(text))
            if names and names <= values.keys():  # "{hours}.": every way it is said, known at load
                filled = [text.replace("{hours}", v) for v in values["hours"]]
                policy.known += filled
                policy.fixed.update(s for t in filled for s in sentences(t))
            for sentence in sentences(text):
                if not fields(sentence):
                    policy.fixed.add(sentence)
                    continue
                policy.openings.update(_fixed_opening(sentence))  # "Thank you," of "Thank you, {name}, …"
                if names <= PUBLIC_VARS:
                    if len(re.sub(r"\{\w+\}|\W", "", sentence)) >= 3:  # needs words of its own
                        policy.public.append(_pattern(sentence, ".+?"))
                else:
                    policy.personal.append(_pattern(sentence, ".*?"))
        return policy

    def allows(self, sentence: str) -> bool:
        if sentence in self.fixed or sentence in self.openings:  # the flow's own words ("{recap}Thank you…" also matches them)
            return True
        if any(p.fullmatch(sentence) for p in self.personal):
            return False
        return any(p.fullmatch(sentence) for p in self.public)


def _fixed_opening(template_sentence: str) -> list[str]:
    """The clause a template sentence opens with when it holds no field ("Thank you," of "Thank
    you, {first_name}, you're verified."; "To recap:" of "To recap: {items}."), else nothing. A
    field after the cut is read as words to come: "{items}" says "your balance and a card block"."""
    cuts = clause_cuts(re.sub(r"\{(\w+)\}", r"{\1} words", template_sentence))  # the head keeps no field
    return [cuts[0][0]] if cuts and not fields(cuts[0][0]) and cuts[0][0].strip() else []


def _pattern(template_sentence: str, wildcard: str) -> re.Pattern[str]:
    parts = re.split(r"\{\w+\}", template_sentence)
    return re.compile(wildcard.join(re.escape(part) for part in parts), re.DOTALL)


# In a prompt directory, marks that it only ever held public sentences. A directory without it was
# filled by a voicebot that cached every prompt (names, balances) and is emptied once: a cache is
# files voicebot can always make again.
POLICY_MARKER = ".public-only"


class PromptCache:
    def __init__(self, tts: str = "piper", rate: int = 16000, directory: Path | None = None) -> None:
        self.synth = get_synthesizer(tts)
        self.rate = rate
        self.dir = directory or cache_dir("prompts")
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / POLICY_MARKER).exists():
            for old in self.dir.glob("*.wav"):
                old.unlink(missing_ok=True)
            (self.dir / POLICY_MARKER).touch()
        self._memory: dict[str, Audio] = {}  # public sentences only
        self.public = PublicText()  # nothing is public until warmed or a flow says so
        self.hits = self.misses = 0
        self.private = 0  # personal sentences synthesized and not kept

    def follow(self, flow: object) -> int:
        """Take the flow's caching policy and render its fixed prompts; returns how many were new."""
        self.public = PublicText.of_flow(flow)
        return self.warm(fixed_prompts(flow) + sorted(self.public.openings) + self.public.known)

    def _path(self, sentence: str) -> Path:
        key = f"{self.synth.name}|{self.synth.voice}|{self.rate}|{sentence}"
        return self.dir / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.wav"

    def cached(self, sentence: str) -> Audio | None:
        """The sentence's audio when it is already in memory, else None: no synthesis, no disk,
        so a caller may ask without waiting for another call's render."""
        audio = self._memory.get(self._path(sentence).name)
        if audio is not None:
            self.hits += 1
        return audio

    def sentence_audio(self, sentence: str) -> Audio:
        return next(self._sentence(sentence, split=False))  # one render: no split

    def _split(self, sentence: str) -> tuple[str, str] | None:
        """Where a personal sentence is cut so its first words play sooner: after an opening the
        flow fixes ("Thank you," — cached), else after its first clause of 3+ words."""
        return next(((h, t) for h, t in clause_cuts(sentence) if self.public.allows(h)), None) \
            or first_clause(sentence)

    def _sentence(self, sentence: str, split: bool) -> Iterator[Audio]:
        """The sentence's audio; `split`: a personal one (synthesized now, whatever its length) in
        two, its opening first (`_split`), so its words start sooner."""
        path = self._path(sentence)
        if path.name in self._memory:
            self.hits += 1
            yield self._memory[path.name]
            return
        public = self.public.allows(sentence)
        # only public sentences are ever written; a personal one is never read back either (a file
        # left by an older voicebot would replay one caller's name or balance to another)
        audio = self._from_disk(path) if public else None
        if audio is not None:
            self.hits += 1
        else:
            self.misses += 1
            if not public:  # personal: for this call only, kept nowhere
                self.private += 1
                head, tail = (self._split(sentence) if split else None) or ("", sentence)
                if head:
                    yield from self._sentence(head, split=False)  # a public opening is in memory
                yield trim_silence(self.synth.synthesize(tail).canonical(self.rate))
                return
            audio = self.synth.synthesize(sentence).canonical(self.rate)
            write_wav(path, audio)  # atomic: tmp file + rename
        # Trimmed as it leaves the cache (the files keep the render): the answer starts sooner.
        audio = trim_silence(audio)
        self._memory[path.name] = audio  # public
        yield audio

    @staticmethod
    def _from_disk(path: Path) -> Audio | None:
        try:
            return read_wav(path) if path.exists() else None
        except AudioError:  # removed or damaged meanwhile (another process): render it again
            return None

    def stream(self, text: str) -> Iterator[Audio]:
        """Sentence by sentence: cached sentences come back at once, new ones as rendered. The
        answer waits only for its first render: a personal first sentence comes in two (its first
        clause, then the rest); the later sentences render while the first plays."""
        for i, sentence in enumerate(sentences(text)):
            yield from self._sentence(sentence, split=i == 0)

    def render(self, text: str) -> Audio:
        parts = [a.samples for a in self.stream(text)] or [np.zeros(0, np.int16)]
        return Audio(np.concatenate(parts), self.rate)

    def warm(self, texts: Iterable[str]) -> int:
        """Render fixed prompts ahead of the call (declaring them public); returns how many
        sentences were new."""
        texts = list(texts)
        self.public.fixed.update(s for text in texts for s in sentences(text))
        before = self.misses
        for text in texts:
            for _ in self.stream(text):
                pass
        return self.misses - before


def fixed_prompts(flow: object) -> list[str]:
    """Every prompt of a flow that has no {placeholder}: what can be rendered before any call."""
    spec = getattr(flow, "spec", flow)
    texts = [t for state in spec.states.values() for t in (state.say, state.say_known, state.ask) if t]
    for block in (spec.messages, spec.authentication):
        texts += [v for v in block.model_dump().values() if isinstance(v, str)]
    texts += [menu for state in spec.states.values() if (menu := keypad_menu(spec, state))]  # re-prompts' key menus
    return sorted({t for t in texts if "{" not in t})
