"""Synthesizer.poll()/step() (the assistant's own frame clock) give the frames of frames(), and
wait without blocking for text."""

import numpy as np

from moshi_mlx.assistant.options import AssistantOptions
from moshi_mlx.assistant.session import Assistant
from moshi_mlx.engine import mlx_worker


def test_poll_and_step_give_the_frames_of_frames(home, events):
    def body():
        synth = Assistant(events)._load_tts(AssistantOptions(stt=None, tts="demo-tts", seed=4))
        synth.reset()
        assert synth.poll() == "wait"  # no text yet: nothing to do, and no blocking
        synth.push_text("Hello there my friend.")
        synth.end_of_text()
        stepped = []
        while (state := synth.poll()) == "step":
            frame = synth.step()
            if frame is not None:
                stepped.append(frame)
        assert state == "done"
        synth.reset()
        synth.push_text("Hello there my friend.")
        synth.end_of_text()
        reference = list(synth.frames())
        return stepped, reference

    stepped, reference = mlx_worker.submit(body).result(timeout=120)
    assert len(stepped) == len(reference) > 0
    assert all(np.array_equal(a.pcm, b.pcm) for a, b in zip(stepped, reference))
    assert [w.text for f in stepped for w in f.started] == ["Hello", "there", "my", "friend."]


class Device:
    """A speaker that has played `played` of the frames written."""

    def __init__(self):
        self.played, self.written, self.cleared = 0, 0, False

    @property
    def queued_s(self):
        return (self.written - self.played) / 12.5

    def write(self, pcm):
        self.written += 1

    def clear(self):
        self.cleared = True


class Synth:
    """Frames with a word starting every other frame."""

    def __init__(self, words):
        from types import SimpleNamespace

        self.frames = [SimpleNamespace(pcm=np.zeros(1920, np.float32),
                                       started=(SimpleNamespace(text=words[i // 2]),) if i % 2 == 0 else ())
                       for i in range(2 * len(words))]

    def reset(self):
        pass

    push_text = flush = end_of_text = lambda self, *a: None

    def cancel(self):
        pass

    def poll(self):
        return "step" if self.frames else "done"

    def step(self):
        return self.frames.pop(0)


def test_words_are_heard_when_played_and_a_cut_drops_the_rest(events):
    from moshi_mlx.assistant.events import AssistantWord
    from moshi_mlx.assistant.speaking import Reply, VoiceOutput

    device = Device()
    output = VoiceOutput(device)
    reply = Reply(1, None, Synth(["one", "two", "three", "four"]), output, events, announcement="x")
    for _ in range(6):
        reply.tts_step()
    assert events.of(AssistantWord) == []  # nothing played yet
    device.played = 2  # frames 0-1 played, 4 still queued
    reply.release()
    assert [w.word for w in events.of(AssistantWord)] == [" one"]
    reply.finish(interrupted=True)
    assert reply.heard_text == "one" and device.cleared
    assert output.played_frames() == 2
