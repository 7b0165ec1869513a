"""A digit group looped by the decoder to the prompt's full length is recognised as a loop."""

from voicebot.asr.whisper_digits import looks_looped


def test_a_group_said_twice_looks_looped_one_repeated_digit_does_not():
    assert looks_looped("23452345") and looks_looped("43214321")
    assert not looks_looped("77777777") and not looks_looped("1111")
    assert not looks_looped("23456789") and not looks_looped("2345234")
