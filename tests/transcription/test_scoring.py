import pytest

from transcription.scoring import normalise_text, number_to_words, word_error_rate


def test_normalise_spells_numbers_and_money():
    assert normalise_text("Fee: $12.50, 2 days!") == "fee twelve dollars and fifty cents two days"
    assert normalise_text("It's 4,500 — OK?") == "it's four thousand five hundred ok"
    assert number_to_words(472) == "four hundred and seventy two"


@pytest.mark.parametrize(
    ("reference", "hypothesis", "wer"),
    [
        ("ask not what your country", "ask not what your country", 0.0),
        ("ask not what your country", "Ask not, what your country!", 0.0),
        ("a b c d", "a x c d e", 0.5),
        ("a b c d", "", 1.0),
        ("", "", 0.0),
    ],
)
def test_word_error_rate(reference, hypothesis, wer):
    assert word_error_rate(reference, hypothesis) == pytest.approx(wer)
