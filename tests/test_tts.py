"""TTS: both real backends speak, the prompt cache renders fixed prompts once, telephony rate."""

from __future__ import annotations

import pytest

from voicebot.audio import write_wav
from voicebot.audio.wavio import is_silent
from voicebot.errors import ModelError
from voicebot.pipeline.prompts import PromptCache
from voicebot.tts import get_synthesizer
from voicebot.vad import split_utterances


@pytest.mark.parametrize("backend", ["piper", "pyttsx3"])
def test_backend_speaks_sentence_by_sentence(backend):
    synth = get_synthesizer(backend)
    parts = list(synth.stream("Your card is blocked. Is there anything else?"))
    assert len(parts) == 2
    whole = synth.synthesize("Your card is blocked.")
    assert 0.7 < whole.duration < 4.0 and not is_silent(whole)
    assert len(split_utterances(whole)) == 1  # the VAD hears speech in it


def test_unknown_backend_is_named():
    with pytest.raises(ModelError, match="unknown TTS backend 'festival'"):
        get_synthesizer("festival")


def test_prompt_cache_renders_once_and_at_telephone_rate(tmp_path):
    cache = PromptCache("piper", rate=8000, directory=tmp_path)
    fixed = ["Welcome to Example Bank.", "How can I help you today?"]
    assert cache.warm(fixed) == 2
    assert cache.warm(fixed) == 0  # already rendered
    audio = cache.render("Welcome to Example Bank. Your balance is twelve dollars.")
    assert audio.rate == 8000 and cache.misses == 3  # only the dynamic sentence is new
    again = PromptCache("piper", rate=8000, directory=tmp_path)  # a new process reads the disk cache
    assert again.warm(fixed) == 0 and again.hits == 2
    # ... for public sentences only: a personal one found on disk (left by an older voicebot) is
    # rendered again, never replayed to another caller
    write_wav(again._path("Your balance is twelve dollars."), audio)
    again.render("Your balance is twelve dollars.")
    assert (again.misses, again.private) == (1, 1)


def test_a_prompt_cache_from_before_the_public_only_policy_is_emptied_once(tmp_path):
    from voicebot.pipeline.prompts import POLICY_MARKER

    (tmp_path / "0123456789abcdef0123.wav").write_bytes(b"RIFF")  # e.g. "Thank you, Alice, ..."
    PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [POLICY_MARKER]
    (tmp_path / "0123456789abcdef0123.wav").write_bytes(b"RIFF")  # written under the policy
    PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    assert (tmp_path / "0123456789abcdef0123.wav").exists()


def test_a_flows_fixed_prompts_are_rendered_before_the_call(tmp_path):
    from voicebot.flow import load_flow
    from voicebot.pipeline.prompts import fixed_prompts

    prompts = fixed_prompts(load_flow("flows/bank.yml"))
    assert "Thanks. Now your four-digit PIN, please." in prompts
    assert all("{" not in p for p in prompts)  # dynamic text (a balance) is rendered in the call
    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    assert cache.warm(prompts) > 10
    before = cache.misses
    cache.render("Thanks. Now your four-digit PIN, please.")
    assert cache.misses == before and cache.warm(prompts) == 0  # nothing new to render


def test_the_flow_decides_which_prompts_may_be_cached():
    from voicebot.flow import load_flow
    from voicebot.pipeline.prompts import PublicText

    public = PublicText.of_flow(load_flow("flows/bank.yml"))
    for sentence in ("I'll connect you with a specialist in card services who can help.",
                     "You're number 2 in line; the wait is about three minutes.", "Sorry, I didn't get that."):
        assert public.allows(sentence), sentence
    for sentence in ("Thank you, Alice, you're verified.",  # {first_name}
                     "Your available balance is one thousand five hundred twenty dollars.",  # {balance}
                     "To recap: your debit card ending in 4 3 2 1 is now blocked.",  # {recap}
                     "Welcome back to Demo Bank, Bob.",  # say_known
                     "Something no template of the flow says."):  # unknown text is personal
        assert not public.allows(sentence), sentence


def test_personal_sentences_are_spoken_but_kept_nowhere(tmp_path):
    from voicebot.flow import load_flow

    cache = PromptCache("pyttsx3", rate=8000, directory=tmp_path)
    cache.follow(load_flow("flows/bank.yml"))
    on_disk = set(tmp_path.iterdir())
    audio = cache.render("Thank you, Alice, you're verified. Sorry, I didn't get that.")
    assert audio.duration > 1.0 and cache.private == 1
    assert set(tmp_path.iterdir()) == on_disk  # the public sentence was already there from warm()
    assert cache._path("Thank you, Alice, you're verified.").name not in cache._memory


def _loud_edges(audio, level=0.01):
    import numpy as np

    x = np.abs(audio.to_float())
    loud = np.flatnonzero(x > level * x.max())
    return loud[0] * 1000 / audio.rate, (x.size - loud[-1]) * 1000 / audio.rate


def test_prompts_start_speaking_at_once_and_leave_a_short_tail(tmp_path):
    import numpy as np

    from voicebot.audio import Audio, read_wav
    from voicebot.tts.base import KEEP_LEAD_MS, KEEP_TAIL_MS, trim_silence

    cache = PromptCache("piper", rate=16000, directory=tmp_path)
    cache.warm(["How can I help you today?"])
    kept = read_wav(next(tmp_path.glob("*.wav")))  # the file keeps Piper's own render
    played = cache.render("How can I help you today?")
    lead, tail = _loud_edges(played)
    raw_lead, raw_tail = _loud_edges(kept)
    # The trimmer judges loudness per 10 ms frame, so the first loud sample may sit up to one
    # frame after the kept lead; 10 ms more absorbs how loud Piper's first frame is on this CPU.
    assert lead <= min(raw_lead, KEEP_LEAD_MS + 20)  # the silence before the words is cut
    assert tail <= min(raw_tail, KEEP_TAIL_MS + 40) and played.duration > 0.7  # ... and after them, the words stay
    padded = Audio(np.concatenate([np.zeros(4800, np.int16), kept.samples, np.zeros(8000, np.int16)]), kept.rate)
    cut_lead, cut_tail = _loud_edges(trim_silence(padded))  # Piper's own lead may already be short
    assert cut_lead <= KEEP_LEAD_MS + 20 and cut_tail <= KEEP_TAIL_MS + 40
    fresh = cache.render("Your balance is twelve dollars.")  # personal: synthesized, never cached
    assert _loud_edges(fresh)[0] <= KEEP_LEAD_MS + 20


def test_a_personal_first_sentence_starts_with_its_first_clause(tmp_path):
    """Synthesized for the call, a personal first sentence comes in two renders (its first clause,
    then the rest) so its first audio is ready sooner; a later sentence, or a public one, in one."""
    from voicebot.flow import load_flow
    from voicebot.tts.base import first_clause

    assert first_clause("Thank you, Alice, you're verified.") == ("Thank you, Alice,", "you're verified.")
    assert first_clause("Yes, sir.") is None and first_clause("Your balance is ten dollars.") is None
    cache = PromptCache("piper", rate=8000, directory=tmp_path)
    cache.follow(load_flow("flows/bank.yml"))  # renders the flow's fixed openings too ("Thank you,")
    hits = cache.hits
    parts = list(cache.stream("Thank you, Alice, you're verified. Thank you, Bob, you're verified."))
    assert len(parts) == 3 and cache.private == 2 and cache.hits == hits + 1  # the opening was ready
    assert parts[0].duration < 0.7 * (parts[0].duration + parts[1].duration)
    assert all(not is_silent(p) for p in parts)
    assert cache._path("Alice, you're verified.").name not in cache._memory  # the rest: kept nowhere
    # an opening before a field that says several words ("To recap: {items}.") is ready too
    hits = cache.hits
    recap = list(cache.stream("To recap: your balance and a card block. Goodbye."))
    assert len(recap) == 3 and cache.hits == hits + 2 and cache.private == 3  # "To recap:", "Goodbye."
    # the hours the flow fixes are rendered at load, as every "{hours}." answer will say them
    hours = "Our branches are open Monday to Friday, nine AM to five PM, and Saturday ten AM to two PM, Eastern time."
    assert cache.public.allows(hours) and cache._path(hours).name in cache._memory
