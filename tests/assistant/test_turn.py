"""The turn detector on synthetic pause probabilities: Unmute's rule (EMA of head 2 above the pause
threshold, first second ignored, reset by a new word), the silence timeout without heads, barge-in."""

from moshi_mlx.assistant.turn import TurnDetector


def run(detector, frames):
    """frames: (probability, words, speaking) per frame -> the signals with their frame index."""
    return [(i, s) for i, f in enumerate(frames) if (s := detector.frame(*f)) is not None]


def test_pause_after_speech_ends_the_turn_once():
    d = TurnDetector(smoothing_s=0.1)
    frames = [(0.0, 1 if i % 3 == 0 else 0, False) for i in range(30)]  # 2.4 s of speech
    frames += [(0.95, 0, False)] * 20
    signals = run(d, frames)
    assert [s for _, s in signals] == ["end_of_turn"]
    at = signals[0][0]
    assert 30 <= at <= 33  # the EMA crosses 0.6 within a few frames of the pause
    assert d.user_spoke is False  # a new turn starts


def test_no_end_of_turn_without_words_or_in_the_first_second():
    d = TurnDetector()
    assert run(d, [(0.99, 0, False)] * 50) == []  # the user never spoke
    d = TurnDetector()
    assert run(d, [(0.99, 1, False)] + [(0.99, 0, False)] * 10) == []  # within ~1 s
    assert d.frame(0.99) is None  # frame 12: Unmute ignores the first 12 steps
    assert d.frame(0.99) == "end_of_turn"


def test_a_new_word_resets_the_pause_value():
    d = TurnDetector(smoothing_s=0.5)
    for _ in range(20):
        d.frame(0.9)
    assert d.pause > 0.8
    d.frame(0.9, words=1)
    assert d.pause < 0.3  # reset to 0, then one smoothed step toward 0.9


def test_mid_sentence_dips_do_not_end_the_turn():
    d = TurnDetector()
    frames = [(0.0, 1, False)] + [(0.3 if i % 2 else 0.5, 0, False) for i in range(40)]
    assert run(d, frames) == []


def test_silence_timeout_without_heads():
    d = TurnDetector(silence_timeout_s=0.8, has_heads=False)
    frames = [(None, 1, False)] * 15 + [(None, 0, False)] * 20
    signals = run(d, frames)
    assert signals == [(24, "end_of_turn")]  # 10 frames = 0.8 s after the last word


def test_barge_in_by_a_word_or_a_low_pause_value_after_three_seconds():
    d = TurnDetector()
    assert d.frame(0.9, words=1, speaking=True) == "barge_in"
    d = TurnDetector(smoothing_s=0.01)
    early = run(d, [(0.1, 0, True)] * 37)  # 2.96 s: the echo canceller may still be settling
    assert early == []
    assert d.frame(0.1, speaking=True) == "barge_in"  # past 3 s, smoothed value 0.1 < 0.4
    d = TurnDetector(smoothing_s=0.01)
    assert run(d, [(0.9, 0, True)] * 60) == []  # a silent user never cuts in
