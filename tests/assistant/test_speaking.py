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
