"""The word state machine and the script reader against Kyutai's (moshi 0.2.13 StateMachine and
script_to_entries), and the incremental reading of text that arrives in pieces."""

import numpy as np
import pytest
import sentencepiece

from moshi_mlx.tts.machine import Entry, TokenIds, WordMachine
from moshi_mlx.tts.script import ScriptReader, script_entries

from .tiny import train_tokenizer


@pytest.fixture(scope="module")
def sp(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "t.model"
    train_tokenizer(path)
    return sentencepiece.SentencePieceProcessor(model_file=str(path))


IDS = TokenIds(card=257)
SCRIPT = ['hello (how) are\u2019you: today <break time="0.5s"/> i am  fine',
          "thank you <break time=\"1s\"/>", "and what would you like"]


@pytest.mark.parametrize("multi_speaker", [True, False])
@pytest.mark.parametrize("padding_between", [0, 1])
def test_script_entries_equal_kyutai(sp, multi_speaker, padding_between):
    from moshi.models.tts import TokenIds as TheirIds, script_to_entries

    theirs = script_to_entries(sp, TheirIds(257), 12.5, SCRIPT, multi_speaker, padding_between)
    ours, dropped = script_entries(sp, IDS, 12.5, SCRIPT, multi_speaker, padding_between)
    assert dropped == []
    assert [(tuple(e.tokens), e.text, e.padding) for e in theirs] == \
        [(e.tokens, e.text, e.padding) for e in ours]


def test_text_in_pieces_gives_the_same_words_and_spans(sp):
    text = 'hello how are you today <break time="0.5s"/> i am (fine) thank: you and you'
    whole, _ = script_entries(sp, IDS, 12.5, [text], True)
    rng = np.random.default_rng(0)
    for _ in range(20):
        reader = ScriptReader(sp, IDS, 12.5, True)
        cuts = sorted(rng.choice(len(text), 6, replace=False))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        got = [e for p in pieces for e in reader.push(p)] + reader.flush()
        assert got == whole
    for e in whole:  # spans point at the words in the original text
        if e.tokens:
            assert text[e.span[0]:e.span[1]].replace("(", "").replace(")", "").replace(":", "") == e.text


def test_speaker_turns_and_unspeakable_words(sp):
    reader = ScriptReader(sp, IDS, 12.5, multi_speaker=True)
    entries = reader.push("hello you ", speaker=0) + reader.push("fine thanks", speaker=1)
    entries += reader.push(" and \u4f60\u597d you \U0001F600", speaker=0, final=True)
    firsts = [e.tokens[0] for e in entries if e.text in ("hello", "fine", "and")]
    assert firsts == [IDS.main, IDS.other, IDS.main]
    assert [e.speaker for e in entries] == [0, 0, 1, 1, 0, 0]
    assert reader.dropped.words == ["\u4f60\u597d", "\U0001F600"]  # unknown pieces: never fed


def _random_entries(rng, sp, n):
    words = "hello how are you today i am fine thank".split()
    out = []
    for _ in range(n):
        if rng.random() < 0.15:
            out.append(Entry((), "", int(rng.integers(0, 4))))
        else:
            w = rng.choice(words)
            out.append(Entry(tuple(sp.encode(w)), w, int(rng.integers(0, 3))))
    return out


@pytest.mark.parametrize("lookahead", [0, 2])
def test_machine_equals_kyutai(sp, lookahead):
    """Random model choices over random words and breaks: the same tokens fed, the same words
    consumed at the same steps, the same end."""
    from moshi.models.tts import Entry as TheirEntry, StateMachine, TokenIds as TheirIds

    rng = np.random.default_rng(lookahead)
    for trial in range(10):
        entries = _random_entries(rng, sp, 12)
        theirs_m = StateMachine(TheirIds(257), second_stream_ahead=lookahead, max_padding=5, initial_padding=2)
        state = theirs_m.new_state([TheirEntry(list(e.tokens), e.text, e.padding) for e in entries])
        ours = WordMachine(IDS, lookahead, max_padding=5, initial_padding=2)
        ours.append(entries)
        for step in range(200):
            sampled = int(rng.choice([0, 3, 7, 50]))
            expected, consumed = theirs_m.process(step, state, sampled)
            got, entry = ours.step(step, sampled)
            assert got == expected, f"trial {trial} step {step}"
            assert consumed == (entry is not None)
        assert ours.state.ended_at == state.end_step is not None


def test_a_file_is_fed_as_the_speech_needs_it(tmp_path):
    """A book is not read into memory: the feeder stops pushing while QUEUED_WORDS are queued."""
    import threading
    import time

    from moshi_mlx.tts import text_source

    book = tmp_path / "book.txt"
    book.write_text("word " * 50 + "\n" + ("more words here\n" * 20000))
    source = text_source.TextSource.from_args(None, str(book))

    class Synth:
        queued_words = 0
        pushed = []

        def push_text(self, text, speaker=None):
            self.pushed.append(text)
            self.queued_words = text_source.QUEUED_WORDS + 1  # nothing is being spoken

        def end_of_text(self):
            self.pushed.append(None)

        def cancel(self):
            pass

    synth, stop = Synth(), threading.Event()
    feeder = text_source.Feeder(source, synth, False, stop)
    feeder.start()
    time.sleep(0.3)
    assert len(synth.pushed) == 1 and feeder.thread.is_alive()
    stop.set()
    feeder.thread.join(5)
    assert not feeder.thread.is_alive() and None not in synth.pushed and feeder.error is None
