"""Evaluation sets for the recognisers: Debian's real recorded speech (pocketsphinx test data)
and banking caller sentences voiced by test voices through a telephone line. Shared by
scripts/bench_asr.py and the tests, so both measure the same thing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POCKETSPHINX_TESTDATA = Path("/usr/share/pocketsphinx/test/data")
# Debian's asterisk-core-sounds-en(-wav): a professional speaker's telephone prompts (8 kHz) and
# the file naming what each one says.
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")

# Written for this set (not intent training data): varied wording, numbers, hesitations.
CALLER_SENTENCES = (
    "I lost my card",
    "hi I think somebody stole my wallet and my debit card was in it",
    "what's the balance on my checking account",
    "can you tell me how much money I have in savings",
    "I need to see my last five transactions",
    "there's a charge on my statement that I don't recognize",
    "I want to dispute a payment from last Tuesday",
    "please block my credit card right away",
    "I forgot my PIN and the machine kept my card",
    "how do I reset my PIN number",
    "what time does the branch on Main Street open",
    "are you open on Saturday mornings",
    "I'd like to transfer two hundred dollars to my savings",
    "move fifty dollars from checking to savings please",
    "I want to make a payment on my loan",
    "when is my next mortgage payment due",
    "can I speak to a real person",
    "let me talk to an agent please",
    "I moved and need to update my address",
    "my new phone number ends in four five six seven",
    "why was I charged an overdraft fee",
    "my card was declined at the grocery store",
    "I'm traveling to Spain next week",
    "I never received my new credit card in the mail",
    "how do I apply for a personal loan",
    "what's the interest rate on a car loan",
    "yes that's correct",
    "no that's not right",
    "my account number is three one four one five nine",
    "I'd like to close my savings account",
    "can you send me a paper statement",
    "somebody took money out of my account without asking",
    "thank you that's all I needed",
    "I want to order new checks",
)

# A second, smaller set in other words ("routing number", "paycheck"), written to check that a
# change measured on CALLER_SENTENCES is not fitted to them (bench_asr set names ending in "+").
CHECK_SENTENCES = (
    "I'd like to check my account balance please",
    "my debit card isn't working at the gas station",
    "can you help me reset my online banking password",
    "I see two charges for the same purchase",
    "what's the routing number for my checking account",
    "I want to report a lost credit card",
    "how long does a wire transfer take",
    "please send me a new card at my home address",
    "I need to change my PIN",
    "when does the branch close today",
    "I'd like to pay off my credit card balance",
    "was my paycheck deposited yet",
    "I think there's a mistake on my statement",
    "can I get a copy of my last bank statement",
    "transfer one hundred dollars to my checking account",
    "I want to speak with a customer service representative",
    "my card expired last month",
    "how much is the monthly fee on this account",
    "I need to freeze my card right now",
    "can you tell me my available credit",
    "I'd like to open a new savings account",
    "no I don't want that",
)


@dataclass(frozen=True)
class Utterance:
    path: Path
    text: str


def _sphinx_transcriptions(listing: Path, folder: Path) -> list[Utterance]:
    """Sphinx `<s> words </s> (fileid)` lines → utterances whose WAV exists."""
    out = []
    for line in listing.read_text().splitlines():
        m = re.match(r"\s*(.*?)\s*\((\S+)\)\s*$", line)
        if m and (folder / f"{m.group(2)}.wav").is_file():
            words = re.sub(r"</?s>", "", m.group(1)).split()
            out.append(Utterance(folder / f"{m.group(2)}.wav", " ".join(words)))
    return out


def real_speech() -> list[Utterance]:
    """Recorded human speech shipped with Debian's pocketsphinx: cards (short commands) and
    LibriVox read speech; empty when the package is absent."""
    sets = [("cards", "cards.transcription"), ("librivox", "transcription")]
    out: list[Utterance] = []
    for folder, listing in sets:
        if (POCKETSPHINX_TESTDATA / folder / listing).is_file():
            out += _sphinx_transcriptions(POCKETSPHINX_TESTDATA / folder / listing, POCKETSPHINX_TESTDATA / folder)
    return out


def asterisk_speech() -> list[Utterance]:
    """Natural speech at 8 kHz: every asterisk prompt whose transcript is plain words (not a
    "[tone]" description, not "press * …" with symbols a recogniser may write either way);
    empty when the packages are absent (docs/asr.md "A larger real-speech guard")."""
    import gzip

    if not ASTERISK_TRANSCRIPTS.is_file():
        return []
    out = []
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, _, text = line.partition(":")
            text = text.strip()
            path = ASTERISK_SOUNDS / f"{name.strip()}.wav"
            if line.startswith(";") or not text or not re.fullmatch(r"[\w\s.,?!'-]+", text) or not path.is_file():
                continue
            out.append(Utterance(path, text))
    return out


def telephone_set(voice: str, sentences: tuple[str, ...] = CALLER_SENTENCES, speak: Callable | None = None) -> list[Utterance]:
    """`sentences` voiced by `voice` through an 8 kHz μ-law noisy (15 dB SNR) telephone line."""
    from voicebot import speechgen

    speak = speak or speechgen.speak
    return [Utterance(Path(speak(s, voice, speechgen.TELEPHONE)), s) for s in sentences]
