"""One turn of `bench assistant` through the engine's own frame loop (assistant/conversation.py), with
the end of turn forced EOT_FRAMES frames after the speech and the moments that split its latency."""

from __future__ import annotations

import queue
import threading
import time

EOT_FRAMES = 3  # the end of turn is forced this many frames after the speech (240 ms of audio)


class _Speech:
    """FileSource with a clock: `end` = when the first frame after the speech was read."""

    live = False

    def __init__(self, pcm):
        from ..assistant.listening import FileSource

        self.inner, self.speech_frames, self.read_frames, self.end = FileSource(pcm), len(pcm) // 1920, 0, None
        self.pcm = self.inner.pcm

    exhausted = property(lambda self: False)

    def read(self):
        if self.read_frames == self.speech_frames:
            self.end = time.perf_counter()
        self.read_frames += 1
        return self.inner.read()

    def close(self):
        pass


def turn(chat, transcriber, synth, audio, user: str, tools=None) -> dict:
    """One turn through the engine's loop; its times (`words`: (perf_counter, word) of each word of
    the reply as its first audio frame came out)."""
    from ..assistant.conversation import Conversation
    from ..assistant.events import AssistantWord, TurnStats
    from ..assistant.listening import Ears
    from ..assistant.speaking import VoiceOutput
    from ..assistant.turn import TurnDetector

    transcriber.reset()
    source = _Speech(audio)
    detector = TurnDetector()
    ears = Ears(transcriber, detector, source)
    forced = source.speech_frames + EOT_FRAMES
    frame, flush = ears.frame, ears.flush
    marks: dict = {}

    def frame_forced(speaking=False):
        heard = frame(speaking)
        if heard is not None and ears.frames == forced:
            heard.signal = "end_of_turn"
        elif heard is not None and heard.signal == "end_of_turn":
            heard.signal = None
        return heard

    def timed_flush():
        marks["eot"] = time.perf_counter()
        out = flush()
        marks["flushed"] = time.perf_counter()
        return out

    take = ears.take_turn

    def take_turn():  # the engine's own reset; the words are the bench's (random STT transcribes noise)
        take()
        return user

    ears.frame, ears.flush, ears.take_turn = frame_forced, timed_flush, take_turn
    output = VoiceOutput()
    speak = output.speak

    def first_audio(pcm):
        marks.setdefault("audio", time.perf_counter())
        speak(pcm)

    output.speak = first_audio
    stats, replies, words = [], [], []

    def emit(event):
        if isinstance(event, TurnStats):
            stats.append(event)
        elif isinstance(event, AssistantWord):
            words.append((time.perf_counter(), event.word))

    conv = Conversation(chat=chat, synth=synth, ears=ears, output=output, tools=tools, recorder=None, emit=emit,
                        stop=threading.Event(), commands=queue.SimpleQueue(), wake=threading.Event(),
                        single_turn=True)
    original_end = conv._end_reply

    def end_reply(interrupted):
        replies.append(conv.reply)
        original_end(interrupted)

    conv._end_reply = end_reply
    conv.run()
    s, r = stats[0], replies[0]
    m = r.marks
    lat = s.latency_ms
    e2e = (marks["audio"] - source.end) * 1e3 if "audio" in marks else None
    split = {"stt": (marks["flushed"] - source.end) * 1e3, "llm": (m.llm_s - m.llm_s_speaking) * 1e3,
             "llm_tokens": m.llm_tokens - m.llm_tokens_speaking, "tts": m.tts_s_before_audio * 1e3,
             "tts_steps": m.tts_steps_before_audio}
    split["other"] = e2e - split["stt"] - split["llm"] - split["tts"] if e2e is not None else None
    return {"e2e_ms": e2e, "split_ms": split,
            "parts_ms": {"end_of_turn": (marks["eot"] - source.end) * 1e3,
                         "stt_flush": (marks["flushed"] - marks["eot"]) * 1e3,
                         "llm_first_word": lat.get("llm_first_word"), "tts_first_audio": lat.get("tts_first_audio")},
            "tokens_speaking": m.llm_tokens_speaking, "llm_s_speaking": m.llm_s_speaking,
            "underruns": s.underruns, "llm_waits": m.llm_waits, "text": r.text, "end": source.end,
            "words": words, "tool_s": m.tool_s}
