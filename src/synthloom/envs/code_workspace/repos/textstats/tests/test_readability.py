from textstats import count_syllables, flesch_reading_ease


def test_count_syllables():
    assert count_syllables("cat") == 1
    assert count_syllables("water") == 2
    assert count_syllables("banana") == 3
    assert count_syllables("make") == 1
    assert count_syllables("table") == 2
    assert count_syllables("the") == 1
    assert count_syllables("rhythm") == 1
    assert count_syllables("") == 0


def test_flesch_simple_text_is_easy():
    assert flesch_reading_ease("The cat sat on the mat.") == 116.1


def test_flesch_long_words_score_lower():
    easy = flesch_reading_ease("The dog ran. The cat sat.")
    hard = flesch_reading_ease("Organizational complexity necessitates comprehensive documentation.")
    assert hard < 0 < easy


def test_flesch_needs_words():
    try:
        flesch_reading_ease("   ")
    except ValueError:
        pass
    else:
        raise AssertionError("expected a ValueError")
