"""Number normalisation both ways: spoken words → numerals (NLU) and numerals → words (TTS)."""

import pytest

from voicebot.asr.numbers import normalize_numbers, parse_amount, say_amount, say_digits, say_number, words_to_digits


@pytest.mark.parametrize(
    "text, digits",
    [
        ("one two three four", "1234"),
        ("my pin is one two three four", "1234"),
        ("five oh two", "502"),
        ("oh one two", "012"),
        ("double five", "55"),
        ("four double five six", "4556"),
        ("triple seven", "777"),
        ("twelve thirty four", "1234"),
        ("nine one one", "911"),
        ("zero zero seven", "007"),
        ("it's 4 5 6 7", "4567"),
        ("account 3141-59", "314159"),
        ("Five, six, seven.", "567"),
        ("nothing here", ""),
        ("oh I see", ""),  # "oh" alone is an interjection, not a zero
        ("one oh oh oh", "1000"),  # a run of "oh"s beside a number is zeros
        ("oh oh seven", "007"),
        ("I said oh oh", ""),
        ("one one one one", "1111"),
        ("two two two two", "2222"),
        ("double four two one", "4421"),
        ("triple seven one", "7771"),
        ("nine nine nine nine", "9999"),
        ("eight seven six five four three two one", "87654321"),
        ("one two three four, five six seven eight", "12345678"),
        ("one two — no, one three", "13"),
        ("one two three four five six seven nine, sorry, seven eight", "12345678"),
        ("two four six eight I mean two four six nine", "2469"),
        ("the second, please", ""),  # ordinals are not digits
    ],
)
def test_words_to_digits(text, digits):
    assert words_to_digits(text) == digits


@pytest.mark.parametrize(
    "text, expected",
    [
        ("send twenty five dollars", "send $25"),
        ("one thousand five hundred twenty point seven five", "1520.75"),
        ("five dollars and fifty cents", "$5.50"),
        ("seven dollars and five cents please", "$7.05 please"),
        ("fifty cents", "$0.50"),
        ("I lost one card", "I lost 1 card"),
        ("a hundred and five", "105"),
        ("two thousand and nine", "2009"),
        ("one hundred twenty three", "123"),
        ("twenty-one", "21"),
        ("one million two hundred thousand", "1200000"),
        ("my pin is one two three four", "my pin is 1234"),
        ("I want to transfer money", "I want to transfer money"),
        ("send $1,520.75 now", "send $1520.75 now"),
    ],
)
def test_normalize_numbers(text, expected):
    assert normalize_numbers(text) == expected


@pytest.mark.parametrize(
    "text, amount",
    [
        ("twenty five dollars", 25.0),
        ("pay $25", 25.0),
        ("I want to send $1,520.75 today", 1520.75),
        ("one thousand five hundred twenty point seven five", 1520.75),
        ("fifty cents", 0.5),
        ("move two hundred dollars to savings", 200.0),
        ("on the 3rd send forty bucks", 40.0),  # a stated currency beats an earlier number
        ("ten dollars and ninety nine cents", 10.99),
        ("no amount here", None),
    ],
)
def test_parse_amount(text, amount):
    assert parse_amount(text) == amount


@pytest.mark.parametrize(
    "value, words",
    [
        (1520.75, "one thousand five hundred twenty dollars and seventy-five cents"),
        ("1520.75", "one thousand five hundred twenty dollars and seventy-five cents"),
        ("$2,000.01", "two thousand dollars and one cent"),
        (1, "one dollar"),
        (0.5, "fifty cents"),
        (100, "one hundred dollars"),
        (-3, "minus three dollars"),
    ],
)
def test_say_amount(value, words):
    assert say_amount(value) == words


def test_say_amount_other_currency():
    assert say_amount(2, currency="euros") == "two euros"
    assert say_amount(1, currency="euros") == "one euro"


@pytest.mark.parametrize("n, words", [(0, "zero"), (13, "thirteen"), (40, "forty"), (99, "ninety-nine"), (105, "one hundred five"), (1_000_000, "one million"), (2_019, "two thousand nineteen")])
def test_say_number(n, words):
    assert say_number(n) == words


def test_say_digits_reads_each_digit_and_skips_separators():
    assert say_digits("1234") == "one two three four"
    assert say_digits("12-03") == "one two zero three"


@pytest.mark.parametrize("n", [0, 7, 15, 42, 100, 999, 1520, 20_009, 1_234_567])
def test_round_trip_words_and_numerals(n):
    assert normalize_numbers(say_number(n)) == str(n)


@pytest.mark.parametrize("amount", [0.5, 1.0, 25.0, 1520.75, 99.99])
def test_round_trip_amounts(amount):
    assert parse_amount(say_amount(amount)) == amount


@pytest.mark.parametrize("text, masked", [
    ("my number is one two three four five six seven eight", "my number is ****"),
    ("pin double four two one please", "pin **** please"),
    ("I paid 1,520.75 yesterday", "I paid 1,520.75 yesterday"),  # amounts stay, as said
    ("twenty five dollars", "twenty five dollars"),
    ("no digits at all", "no digits at all"),
])
def test_mask_digit_strings(text, masked):
    from voicebot.numparse import mask_digit_strings

    assert mask_digit_strings(text, "****") == masked


def test_one_parser_serves_asr_flow_and_nlu():
    from voicebot.flow.speech import digits_in
    from voicebot.nlu.entities import extract

    said = "my pin is double four seven seven"
    assert words_to_digits(said) == digits_in(said) == extract(said)["digits"] == "4477"
