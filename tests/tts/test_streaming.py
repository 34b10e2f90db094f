"""The synthesizer as a stream: text arriving in pieces from another thread gives exactly the frames
of the whole text given at once (it waits instead of padding); flush speaks what it has and pauses;
the stream resumes, ends, cancels; queues stay bounded over a long text."""

import threading
import time

import numpy as np
import pytest

from moshi_mlx.engine.loader import load_model
from moshi_mlx.hub import folder_files
from moshi_mlx.tts.synth import Synthesizer, TtsSettings
from moshi_mlx.tts.voices import load_voice_file

from .tiny import write_voice

TEXT = ("hello how are you today i am fine thank you and what would you like to talk about the "
        "weather is nice this morning")


@pytest.fixture(scope="module")
def model_and_voice(speakers_folder, tmp_path_factory):
    folder = speakers_folder[0]
    voice = load_voice_file(write_voice(tmp_path_factory.mktemp("voice") / "v.safetensors"))
    return load_model(folder_files(folder)), voice


def _synth(model_and_voice, **settings):
    """A synthesizer made on the MLX worker thread, where its frames run (an MLX stream belongs to
    a thread: arrays not yet evaluated cannot move to another)."""
    from moshi_mlx.engine import mlx_worker

    model, voice = model_and_voice
    rows = []
    synth = mlx_worker.submit(lambda: Synthesizer(model, [voice], TtsSettings(**settings).greedy(),
                                                  token_sink=rows.append)).result()
    return synth, rows


def _frames(synth):
    from moshi_mlx.engine import mlx_worker

    return mlx_worker.submit(lambda: list(synth.frames())).result()


def test_text_in_pieces_from_another_thread_equals_whole_text(model_and_voice):
    whole, rows_whole = _synth(model_and_voice)
    whole.push_text(TEXT)
    whole.end_of_text()
    frames_whole = _frames(whole)

    synth, rows = _synth(model_and_voice)
    waits = []

    def writer():
        rng = np.random.default_rng(1)
        pos = 0
        while pos < len(TEXT):
            step = int(rng.integers(1, 12))
            synth.push_text(TEXT[pos:pos + step])
            pos += step
            time.sleep(0.01)
            waits.append(synth.gen.offset)
        synth.end_of_text()

    threading.Thread(target=writer).start()
    frames = _frames(synth)
    np.testing.assert_array_equal(np.stack(rows, 1), np.stack(rows_whole, 1))
    assert [w.text for f in frames for w in f.started] == TEXT.split()
    assert [f.index for f in frames] == [f.index for f in frames_whole]
    assert np.array_equal(np.concatenate([f.pcm for f in frames]), np.concatenate([f.pcm for f in frames_whole]))


def _iterate_on_worker(synth, collected):
    """Iterate frames() on the MLX worker thread (MLX streams belong to a thread); the Future is
    running while the synthesizer waits for text."""
    from moshi_mlx.engine import mlx_worker

    def run():
        for frame in synth.frames():
            collected.append(frame)

    return mlx_worker.submit(run)


def _settled(synth, seconds=0.6):
    """The call count once it stops changing (the synthesizer is waiting)."""
    last = -1
    while synth.gen.offset != last:
        last = synth.gen.offset
        time.sleep(seconds)
    return last


@pytest.mark.realtime
def test_waits_for_lookahead_then_flush_speaks_all_then_resumes(model_and_voice):
    synth, rows = _synth(model_and_voice)
    frames = []
    job = _iterate_on_worker(synth, frames)
    synth.push_text("hello how are ")  # "are" complete, but the model looks 2 words ahead
    waiting_at = _settled(synth)
    state = synth.machine.state
    assert state.ended_at is None and not state.queued and state.forced_padding == 0
    assert synth.machine.words_ahead() <= 2, "it must wait rather than feed a word without look-ahead"
    synth.flush()  # "speak what you have": the three words, their audio, then a pause
    paused_at = _settled(synth)
    assert paused_at > waiting_at and state.ended_at is not None
    assert paused_at == state.ended_at + synth.info.delay_steps + synth.settings.final_padding
    spoken = [w.text for f in frames for w in f.started]
    assert spoken == ["hello", "how", "are"] and not job.done()
    synth.push_text("you today i am fine")  # the same stream goes on
    synth.end_of_text()
    job.result(30)  # frames() ends after end_of_text
    assert [w.text for f in frames for w in f.started][3:] == "you today i am fine".split()
    assert [f.index for f in frames] == list(range(len(frames)))


def test_auto_flush_and_cancel(model_and_voice):
    synth, _ = _synth(model_and_voice, auto_flush_s=0.3)
    frames = []
    job = _iterate_on_worker(synth, frames)
    synth.push_text("hello how")  # "how" is unfinished: the auto flush completes it
    time.sleep(0.2)
    _settled(synth)
    assert [w.text for f in frames for w in f.started] == ["hello", "how"]
    synth.cancel()
    job.result(10)


def test_end_without_words_and_reset(model_and_voice):
    synth, rows = _synth(model_and_voice)
    synth.push_text("   ")
    synth.end_of_text()
    assert _frames(synth) == [] and rows == []
    with pytest.raises(RuntimeError, match="reset"):
        synth.push_text("hello")
    from moshi_mlx.engine import mlx_worker

    mlx_worker.submit(synth.reset).result()
    synth.push_text("hello")
    synth.end_of_text()
    assert [w.text for f in _frames(synth) for w in f.started] == ["hello"]


def test_long_text_keeps_bounded_state(model_and_voice):
    """Hundreds of words through the ring cache (context 24 frames): queues hold only what is
    waiting, the word list only words not yet heard."""
    synth, rows = _synth(model_and_voice)
    words = (TEXT + " ") * 2
    synth.push_text(words)
    synth.end_of_text()
    counts = []

    def run():
        peak = 0
        for frame in synth.frames():
            rows.clear()  # what a caller writing to disk does
            peak = max(peak, len(synth._words), len(synth.machine.state.queued))
            counts.append(len(frame.started))
        return peak

    from moshi_mlx.engine import mlx_worker

    peak = mlx_worker.submit(run).result()
    count = sum(counts)
    assert count == len(words.split())
    assert synth.gen.offset > 10 * 24, "runs far past the context"
    assert peak <= 3
