"""Audio front end: every WAV encoding a caller recording may use, G.711, resampling, framing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from voicebot.audio import Audio, read_wav, write_wav
from voicebot.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voicebot.audio.wavio import is_silent
from voicebot.errors import AudioError


@pytest.fixture(scope="module")
def spoken(speak) -> Audio:
    """Real synthesized speech, 16 kHz mono."""
    return read_wav(speak("Please block my debit card", "flite:slt"))


ENCODINGS = [
    ("PCM_U8", 8000, 1), ("PCM_16", 16000, 1), ("PCM_24", 44100, 2), ("PCM_32", 48000, 1),
    ("FLOAT", 22050, 1), ("DOUBLE", 16000, 2), ("ULAW", 8000, 1), ("ALAW", 8000, 1),
]


@pytest.mark.parametrize("subtype,rate,channels", ENCODINGS)
def test_every_encoding_loads_to_canonical(tmp_path, spoken, subtype, rate, channels):
    src = spoken.resample(rate)
    data = src.to_float()
    if channels == 2:
        data = np.stack([data, data * 0.5], axis=1)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, data, rate, subtype=subtype)
    loaded = read_wav(path)
    assert loaded.rate == rate and loaded.channels == channels
    canon = loaded.canonical()
    assert canon.rate == 16000 and canon.channels == 1 and canon.samples.dtype == np.int16
    assert abs(canon.duration - spoken.duration) < 0.01
    # The waveform survives the round trip (8-bit codecs are lossy, so compare by correlation).
    ref = spoken.to_float()[: canon.num_samples]
    got = canon.to_float()[: ref.shape[0]]
    if channels == 2:
        got = got / 0.75  # the mono mix of (x, x/2)
    assert np.corrcoef(ref, got)[0, 1] > 0.97


def test_g711_matches_libsndfile(tmp_path, spoken):
    """Our numpy G.711 codecs agree with libsndfile's on real speech, both ways."""
    pcm = spoken.resample(8000).samples
    for subtype, encode, decode in (("ULAW", ulaw_encode, ulaw_decode), ("ALAW", alaw_encode, alaw_decode)):
        path = tmp_path / f"{subtype}.wav"
        sf.write(path, pcm, 8000, subtype=subtype)
        payload = path.read_bytes()[-len(pcm):]  # 1 byte a sample at the end of the file
        ours_bytes = np.frombuffer(encode(pcm), np.uint8)
        # Encoders may differ by one step exactly on a segment edge (ITU vs libsndfile rounding).
        assert np.mean(ours_bytes == np.frombuffer(payload, np.uint8)) > 0.97, subtype
        ours = decode(payload).astype(np.int32)
        theirs = sf.read(path, dtype="int16")[0].astype(np.int32)
        assert np.max(np.abs(ours - theirs)) <= 1, subtype


def test_g711_round_trip_error_is_small():
    x = (np.sin(np.linspace(0, 200, 8000)) * 20000).astype(np.int16)
    for enc, dec in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        y = dec(enc(x)).astype(np.float64)
        snr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((x - y) ** 2))
        assert snr > 30


def test_frames_are_exact_length(spoken):
    for ms in (10, 20, 30):
        frames = list(spoken.frames(ms))
        assert all(f.num_samples == 16000 * ms // 1000 for f in frames)
        assert len(frames) == -(-spoken.num_samples // (16000 * ms // 1000))
    with pytest.raises(ValueError):
        list(spoken.frames(25))


def test_write_then_read_round_trip(tmp_path, spoken):
    path = write_wav(tmp_path / "x.wav", spoken)
    assert np.array_equal(read_wav(path).samples, spoken.samples)


def test_silence_detection(spoken):
    assert is_silent(Audio.silence(1.0))
    assert not is_silent(spoken)


@pytest.mark.parametrize(
    "content,problem",
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"ID3\x03\x00 this is an mp3 really", "not a WAV file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV"),
    ],
)
def test_bad_files_raise_named_errors(tmp_path, content, problem):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError) as err:
        read_wav(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_truncated_wav_is_reported(tmp_path, spoken):
    good = write_wav(tmp_path / "good.wav", spoken)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:44])  # header only, no samples
    with pytest.raises(AudioError, match="cut.wav"):
        read_wav(cut)


def test_unsupported_encoding_is_named(tmp_path, spoken):
    path = tmp_path / "g721.wav"
    sf.write(path, spoken.resample(8000).to_float(), 8000, subtype="G721_32")
    with pytest.raises(AudioError, match="unsupported WAV encoding G721_32"):
        read_wav(path)


def test_g711_encode_tables_give_what_the_arithmetic_gives():
    """The encoders look codes up in tables built from the arithmetic: for every int16 sample,
    and for wider samples (which clip), the code is the arithmetic's own."""
    from voicebot.audio import g711

    every = np.arange(-32768, 32768).astype(np.int16)
    wide = np.array([-100000, -32769, 32768, 70000], np.int32)
    for table, arith in ((g711.ulaw_encode, g711._ulaw_encode_arith), (g711.alaw_encode, g711._alaw_encode_arith)):
        assert table(every) == arith(every)
        assert table(every[::-7][3:]) == arith(every[::-7][3:])  # a strided view, not contiguous
        assert table(wide) == arith(wide)
