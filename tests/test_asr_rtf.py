"""What made Whisper cheaper without changing what it hears (docs/asr.md, "Where the time goes"):
the "no speech" probability is asked for only when a reading is unlikely, and a serving process's
malloc settings no longer turn every CTranslate2 buffer into fresh pages. No timing here: the
assertions are on values and page-fault counts, which do not depend on the machine's speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from voicebot.asr.base import Hints, get_recognizer
from voicebot.asr.testsets import telephone_set
from voicebot.audio import Audio, read_wav


@pytest.fixture(scope="module")
def whisper():
    return get_recognizer("whisper")


def _line_noise(seconds: float = 3.0, seed: int = 1, level: float = 0.01) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio((rng.normal(0, level, int(8000 * seconds)) * 32767).astype(np.int16), 8000)


def test_no_speech_probability_of_one_step_is_the_beam_searchs(whisper, speak, telephone):
    import ctranslate2

    audio = [read_wav(u.path) for u in telephone_set("flite:kal")[:2]]
    audio.append(read_wav(speak("two four six eight", "piper", telephone)))
    audio.append(_line_noise())
    for a, hints in zip(audio, (Hints(), Hints("yesno"), Hints("digits", length=4), Hints())):
        utt = whisper._prepare(a, hints)
        s = whisper._settings(hints)
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(utt.encoded))
        options = dict(beam_size=whisper.beam_size, max_length=len(s.prompt) + 20, return_scores=True,
                       repetition_penalty=s.repetition_penalty, no_repeat_ngram_size=s.no_repeat_ngram_size,
                       suppress_blank=True, num_hypotheses=s.n_best)
        full = whisper._model.generate(features, [list(s.prompt)], return_no_speech_prob=True, **options)[0]
        lean = whisper._model.generate(features, [list(s.prompt)], **options)[0]
        assert whisper._no_speech_prob(utt, s.prompt) == full.no_speech_prob
        assert (lean.sequences_ids, lean.scores) == (full.sequences_ids, full.scores)  # the readings do not change


@pytest.mark.parametrize("seed, level", [(1, 0.02), (2, 0.01), (2, 0.02)])
def test_louder_line_noise_is_not_heard_as_a_word(whisper, seed, level):
    """3 s of −34 to −40 dBFS noise was heard as a confident "I'm" (avg log-prob above −1, so the
    no-speech check was never asked): a short reading is checked however sure it is."""
    assert whisper.transcribe(_line_noise(3.0, seed, level), Hints()).text == ""


def test_line_noise_is_heard_as_nothing_and_speech_skips_the_extra_step(whisper, monkeypatch):
    asked = []
    real = whisper._no_speech_prob
    monkeypatch.setattr(whisper, "_no_speech_prob", lambda utt, prompt: asked.append(1) or real(utt, prompt))
    assert whisper.transcribe(_line_noise(), Hints()).text == ""
    assert asked == [1]
    sentence = read_wav(telephone_set("piper")[0].path)
    heard = whisper.transcribe(sentence, Hints())
    assert heard.text and heard.confidence > 0.37  # exp(-1): likely enough that nobody asks
    assert asked == [1]


_FAULTS = """
import json, resource, sys
from voicebot.pipeline.workers import tune_malloc
from voicebot.asr.base import Hints, get_recognizer
from voicebot.asr.testsets import telephone_set
from voicebot.audio import read_wav
assert tune_malloc()
whisper = get_recognizer("whisper")
audio = [read_wav(u.path) for u in telephone_set("piper")[:4]]
whisper.transcribe(audio[0], Hints())
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for a in audio:
    whisper.transcribe(a, Hints())
print(json.dumps((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / len(audio)))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_serving_malloc_settings_do_not_fault_in_every_decode_buffer():
    """With the 128 KB mmap threshold a serving process had, each of CTranslate2's per-op buffers
    was a fresh mapping: ~65,000 minor page faults per utterance (Whisper at twice the CPU); with
    the current settings a few hundred."""
    out = subprocess.run([sys.executable, "-c", _FAULTS], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    faults = json.loads(out.stdout.strip().splitlines()[-1])
    assert faults < 5000, faults


def test_idle_decoder_trims_only_what_the_process_grew_by(monkeypatch):
    """A trim at every idle moment made the next decode fault its buffers in again (~6,500 pages);
    now the first idle moment after a trim notes the process's size, and the next trim waits until
    it has grown by more than TRIM_SLACK_BYTES."""
    from voicebot.pipeline import workers

    trims: list[int] = []
    sizes = iter([100, 110, 116, 117, 90, 95, 106, 107, 40])
    mb = 2**20

    class Libc:
        def malloc_trim(self, pad):
            trims.append(pad)

    monkeypatch.setattr(workers, "_tuned", True)
    monkeypatch.setattr(workers, "glibc", lambda: Libc())
    monkeypatch.setattr(workers, "TRIM_SLACK_BYTES", 16 * mb)
    monkeypatch.setattr(workers, "_resident_after_trim", None)
    monkeypatch.setattr(workers, "resident_bytes", lambda: next(sizes) * mb)
    done = [workers.trim_malloc() for _ in range(9)]
    assert done == [False, False, False, True, False, False, False, True, False]
    assert trims == [0, 0]


def test_resident_bytes_is_the_process_size():
    from voicebot.pipeline import workers

    if not os.path.exists("/proc/self/statm"):
        pytest.skip("no /proc")
    big = np.ones(64 * 2**20 // 8)  # 64 MB, touched
    assert workers.resident_bytes() > 64 * 2**20
    del big


def test_wider_encoder_hears_the_same_bit_for_bit(whisper):
    """The encoder's two-thread copy (used when a core is spare) gives the single-thread encoder's
    output exactly: the threads split the products' rows, not their sums."""
    import ctranslate2

    from voicebot.asr import whisper as w
    from voicebot.asr.features import log_mel

    if whisper._wide is None:
        pytest.skip("one core: no wider encoder")
    for utt in telephone_set("flite:slt")[:3]:
        samples = whisper._prepare(read_wav(utt.path), Hints()).samples
        features = ctranslate2.StorageView.from_array(log_mel(whisper._features, samples, 1000)[None])
        assert np.array_equal(np.asarray(whisper._wide.encode(features)), np.asarray(whisper._model.encode(features)))
    assert w.cores.encoder_threads() >= 2


def test_spare_cores_follow_the_idle_time_since_the_last_look(tmp_path, monkeypatch):
    from voicebot.asr import threads

    stat = tmp_path / "stat"
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)  # /proc/stat sums both
    monkeypatch.setattr(threads, "MIN_INTERVAL_S", 0.0)
    monkeypatch.setattr(threads, "_clock_ticks", lambda: 100)

    def ticks(user, nice, idle):  # user nice system idle iowait irq softirq steal guest guest_nice
        stat.write_text(f"cpu  {user} {nice} 0 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")

    ticks(100, 0, 900)
    spare = threads.SpareCores(path=str(stat))
    assert spare.available()  # since boot: 1.8 cores idle
    ticks(290, 0, 910)  # then both cores busy: 10 idle ticks of 200
    assert not spare.available()
    ticks(390, 0, 1010)  # one core busy with other work, one idle: the second thread would share a core
    assert not spare.available()
    ticks(400, 190, 1020)  # niced work on the other core is not idle
    assert not spare.available()
    ticks(410, 190, 1210)  # idle again
    assert spare.available() and spare.free == pytest.approx(1.9)
    assert not threads.SpareCores(path=str(tmp_path / "missing")).available()


def test_the_recognisers_own_work_is_not_other_work(tmp_path, monkeypatch):
    """Utterances heard back to back: since the last look the previous encode and decode kept a
    core and a half busy, but it was the recogniser's own serial work, not a competitor."""
    from voicebot.asr import threads

    stat = tmp_path / "stat"
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threads, "MIN_INTERVAL_S", 0.0)
    monkeypatch.setattr(threads, "_clock_ticks", lambda: 100)
    wall, cpu = [0.0], [0.0]
    monkeypatch.setattr(threads.time, "perf_counter", lambda: wall[0])
    monkeypatch.setattr(threads.time, "process_time", lambda: cpu[0])

    def ticks(busy, idle):
        stat.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\n")

    ticks(0, 1000)
    spare = threads.SpareCores(path=str(stat))
    assert spare.available()
    ticks(130, 1070)  # 1 s: 1.3 cores busy, 0.7 idle
    assert not spare.available() and spare.free == pytest.approx(0.7)  # all of it other work
    with spare.working(threads=2):  # a wide encode, 0.4 s: both cores busy, left out
        ticks(210, 1070)
        wall[0] += 0.4
        cpu[0] += 0.8
    with spare.working():  # its decode, 0.6 s on one core while the other idles
        wall[0] += 0.6
        cpu[0] += 0.6
        ticks(270, 1130)
    assert spare.available() and spare.free == pytest.approx(2.0)
    with spare.working():  # a decode waiting for a core half the time is not using one
        wall[0] += 1.0
        cpu[0] += 0.5
        ticks(470, 1130)  # 1 s, both cores busy: the decode had 50 ticks of the 200
    assert not spare.available() and spare.free == pytest.approx(0.5)
    with spare.working(threads=2):
        ticks(480, 1130)
    assert not spare.available()  # a wide encode's span alone is too little to judge: the last verdict
    always = threads.SpareCores(need=threads.ALWAYS, path=str(tmp_path / "missing"))
    assert always.available()


def test_bench_asr_step_names_the_encoder_it_measured(whisper):
    """`voicebot bench`'s ASR figure follows the machine's load (which encoder copy a spare core
    allowed): its details say which ran for every timed utterance, and the load average."""
    from voicebot.bench import speed

    utts = telephone_set("piper")[:12:6]
    out = speed.asr(utts, ["whisper"], baseline=False)["whisper"]
    assert sum(out["encoder"].values()) == out["utterances"] == 2
    assert set(out["encoder"]) == {"wide", "one thread"} and out["load_average_1min"] >= 0
