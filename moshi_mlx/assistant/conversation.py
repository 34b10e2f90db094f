"""The assistant's frame clock, on the MLX worker: each 80 ms the STT hears a frame (it listens while
the assistant speaks), the TTS makes frames while the speaker has room, and the LLM writes tokens
in the time left, or first when the TTS is about to run out of words (the LLM stays ahead of the
speech it feeds). With a microphone the clock is the microphone; without one (typed turns, a
file) frames are made as fast as compute allows, paced only by the speaker when there is one.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid

from ..engine.events import ErrorEvent
from .events import (AssistantReply, ConsentRequest, PhaseEvent, ReminderEvent, ToolCallEvent,
                     TurnStats, UserCaption, UserTurn)
from .speaking import Reply
from .tool_calls import FILLER, MAX_ROUNDS, Outcome, ToolRun, short, spoken_decision

FRAME_BUDGET_S = 0.07  # of each 80 ms frame, for TTS and LLM work after the STT's step
REMINDER_POLL_S = 1.0
FILE_TAIL_S = 2.0  # after a file's end, the turn ends at the latest this long after (forced)


class Conversation:
    def __init__(self, *, chat, synth, ears, output, tools, recorder, emit, stop: threading.Event,
                 commands: queue.SimpleQueue, wake: threading.Event, single_turn: bool = False):
        self.chat, self.synth, self.ears, self.output = chat, synth, ears, output
        self.tools, self.recorder, self.emit, self.stop = tools, recorder, emit, stop
        self.commands, self.wake = commands, wake
        self.single_turn = single_turn  # a file's turn: the session ends after its reply
        self.live = ears is not None and ears.source.live
        self.push_to_talk = bool(getattr(ears, "push_to_talk", False))  # turns end on release, not on a pause
        self.turn = 0
        self.reply: Reply | None = None
        self.announcements: list[str] = []
        self.tool_run: ToolRun | None = None
        self.consent: tuple[str, object] | None = None  # (request id, call) awaiting the user's answer
        self.tool_rounds = 0
        self.call_queue: list = []  # calls of the current round not started yet
        self.results: list[tuple] = []  # (call, result text) of the current round
        self.asked: set[str] = set()  # ids of the calls the user was asked about
        self.turn_start = 0.0
        self.parts: dict = {}
        self.done = False
        self.lookahead = synth.info.lookahead if synth is not None else 0
        self._next_reminders = 0.0

    @property
    def time_s(self) -> float:
        return self.ears.time_s if self.ears is not None else self.output.time_s

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        self.emit(PhaseEvent("listening", 1))
        while not self.stop.is_set() and not self.done:
            tick = time.perf_counter()
            busy = self._commands()
            if self._listening():
                heard = self.ears.frame(speaking=self._can_barge_in())
                if heard is None:
                    break  # the microphone was lost (an ErrorEvent said so)
                self._on_heard(heard)
                busy = True
            self._reminders()
            # listening to a file: one frame of speech per frame heard (both on the same clock)
            paced = self._listening() and not self.live
            busy |= self._work(tick + FRAME_BUDGET_S if self.live else None, 1 if paced else None)
            if self.reply is None and self.single_turn and self.turn and not self.announcements:
                break
            if not busy and not self.live:
                self.wake.wait(0.02 if (self.reply or self.tool_run) else 0.1)
        if self.reply is not None:
            self._end_reply(interrupted=True)

    def _listening(self) -> bool:
        if self.ears is None:
            return False
        if self.single_turn:  # a file: its turn, and the answer to a consent question (silence: no)
            return self.turn == 0 or self.consent is not None
        return True

    def _can_barge_in(self) -> bool:
        return self.reply is not None and self.reply.chat is not None and self.consent is None

    # -- commands from other threads ------------------------------------------------------------
    def _commands(self) -> bool:
        busy = False
        self.wake.clear()
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                return busy
            busy = True
            if cmd[0] == "text":
                if self.reply is not None:
                    self._end_reply(interrupted=True)
                if self.ears is not None:
                    self.ears.take_turn()
                self._start_turn(cmd[1], typed=True, start=time.perf_counter())
            elif cmd[0] == "interrupt" and self.reply is not None:
                self._end_reply(interrupted=True)
            elif cmd[0] == "consent" and self.consent is not None and self.consent[0] == cmd[1]:
                self._answer(cmd[2])
            elif cmd[0] == "hold" and self.push_to_talk:
                self._hold(cmd[1])

    def _hold(self, held: bool) -> None:
        """Push-to-talk: key down cuts what is being said (not a consent question: the user may be
        answering it) and starts the turn; key up ends it at once."""
        ears = self.ears
        if held and not ears.held:
            if self.reply is not None and self.consent is None:
                self._end_reply(interrupted=True)
            ears.press()
        elif not held and ears.held:
            ears.release()
            if self.reply is None or self.consent is not None:
                self._end_of_turn()
            else:  # a typed turn's reply began meanwhile: these words are dropped
                ears.take_turn()

    # -- hearing --------------------------------------------------------------------------------
    def _on_heard(self, heard) -> None:
        if heard.caption:
            self.emit(UserCaption(heard.caption, self.turn + 1, self.time_s))
        if self.push_to_talk:
            return  # the key, not the pause detector, ends a turn and cuts a reply
        signal = heard.signal
        source = self.ears.source
        if signal is None and not source.live and source.exhausted and (self.reply is None or self.consent):
            if self.ears.detector.silent_frames * 0.08 >= min(self.ears.detector.silence_timeout_s, FILE_TAIL_S) \
                    or self.ears.frames * 0.08 > len(source.pcm) / 24000 + FILE_TAIL_S:
                signal = "end_of_turn"  # a file's turn ends with the file, at the latest
        if signal == "barge_in" and self._can_barge_in():
            self._end_reply(interrupted=True)
        elif signal == "end_of_turn" and self.reply is None or (signal == "end_of_turn" and self.consent):
            self._end_of_turn()

    def _end_of_turn(self) -> None:
        ears = self.ears
        t = time.perf_counter()
        last = ears.last_word_at or t
        caption = ears.flush()
        t_flush = time.perf_counter()
        if caption:
            self.emit(UserCaption(caption, self.turn + 1, self.time_s))
        text = ears.take_turn()
        if self.consent is not None:
            self._answer(spoken_decision(text))
            return
        if not text and self.push_to_talk:
            return  # the key held without a word: no turn
        self.parts = {"end_of_turn": (t - last) * 1e3, "stt_flush": (t_flush - t) * 1e3}
        self._start_turn(text or "...", typed=False, start=last)

    # -- turns and replies ------------------------------------------------------------------------
    def _start_turn(self, text: str, typed: bool, start: float) -> None:
        self.turn += 1
        if typed:
            self.parts = {}
        self.emit(UserTurn(text, self.turn, typed, self.time_s))
        if self.recorder is not None:
            self.recorder.line("User", text)
        self.emit(PhaseEvent("thinking", self.turn))
        self.turn_start, self.tool_rounds = start, 0
        try:
            self.reply = Reply(self.turn, self.chat, self.synth, self.output, self.emit, user_text=text)
        except Exception as e:  # noqa: BLE001 - the LLM refused the turn: say so, listen again
            self.emit(ErrorEvent("llm", f"the language model failed: {type(e).__name__}: {e}", fatal=False))
            self.reply = None
            self.emit(AssistantReply(self.turn, "", "", "", True))
            self.emit(TurnStats(self.turn, {}))
            self.emit(PhaseEvent("listening", self.turn + 1))

    def _end_reply(self, interrupted: bool) -> None:
        r, self.reply = self.reply, None
        if self.tool_run is not None:
            self.tool_run.stop()
            call = self.tool_run.call
            self._tool_event(call, "cancelled", elapsed_s=self.tool_run.elapsed_s)
            self.tool_run = None
        if self.consent is not None:  # cut while asking: the call was never made
            self._record_tool(self.consent[1], "cancelled", "")
        self.consent = None
        self.call_queue, self.results = [], []
        r.finish(interrupted)
        if r.chat is None:  # an announcement
            return
        if r.failed is not None:
            self.emit(ErrorEvent("llm", f"the language model failed mid-reply: {type(r.failed).__name__}: "
                                 f"{r.failed}", fatal=False))
        self.emit(AssistantReply(self.turn, r.text, r.spoken.strip(), r.heard_text, r.interrupted))
        if self.recorder is not None and r.heard_text:
            self.recorder.line("Assistant", r.heard_text + ("—" if r.interrupted else ""))
        latency = {**self.parts, **r.latency_ms(self.turn_start)}
        m = r.marks
        self.emit(TurnStats(self.turn, latency, m.llm_tokens, m.llm_tokens / m.llm_s if m.llm_s else 0.0,
                            self.output.underruns() if self.output.device is not None else r.underruns()))
        self.emit(PhaseEvent("listening", self.turn + 1))

    # -- the work of one frame ----------------------------------------------------------------------
    def _work(self, deadline: float | None, max_frames: int | None = None) -> bool:
        busy, frames = False, 0
        while not self.stop.is_set():
            if self.reply is None and not self._next_announcement():
                return busy
            r = self.reply
            if r.pending:
                r.release()  # words reaching the speaker
            did = self._tools(r)
            state = r.tts_state()
            if state == "done" and not r.llm_active and r.tool_calls is None and self.tool_run is None:
                self._end_reply(interrupted=False)
                busy = True
                continue
            starving = r.synth is not None and r.synth.queued_words <= self.lookahead
            time_left = deadline is None or not busy or time.perf_counter() < deadline  # one step at least
            tts_ready = state == "step" and self.output.has_room() and (max_frames is None or frames < max_frames)
            # before the first audio the TTS goes first whenever it can (its silent delay frames
            # need only the words it has); then the LLM first whenever the TTS is low on words
            speaking = r.marks.first_audio is not None
            if state == "wait" and speaking and r.llm_active and not r.waiting:
                r.marks.llm_waits += 1  # the LLM fell behind the speech
            r.waiting = state == "wait"
            if r.llm_active and time_left and (not tts_ready or (starving and speaking)):
                spoke = r.words_pushed
                r.llm_step()
                did = True
                if r.synth is None and spoke == 0 and r.words_pushed:
                    self.emit(PhaseEvent("speaking", self.turn))
            elif tts_ready and time_left:
                first = r.marks.first_audio is None
                frames += r.tts_step()
                if first and r.marks.first_audio is not None:
                    self.emit(PhaseEvent("speaking", self.turn))
                did = True
            busy |= did
            if self.wake.is_set():  # a command (interrupt, typed turn): handled before the next frame
                return True
            if not did or (deadline is not None and time.perf_counter() >= deadline):
                return busy
        return busy

    def _next_announcement(self) -> bool:
        if not self.announcements:
            return False
        text = self.announcements.pop(0)
        self.reply = Reply(self.turn, None, self.synth, self.output, self.emit, announcement=text)
        return True

    # -- tools --------------------------------------------------------------------------------------
    def _tools(self, r: Reply) -> bool:
        """The calls of a finished LLM segment, one after the other; then the reply goes on."""
        if r.chat is None or r.tool_calls is None:
            return False
        if self.tool_run is None and self.consent is None:
            if not self.call_queue and not self.results:  # a new round
                self.tool_rounds += 1
                self.call_queue = list(r.tool_calls)
                self.emit(PhaseEvent("tool", self.turn))
            if self.call_queue:
                self._start_tool(r, self.call_queue.pop(0))
                return True
            results, self.results = self.results, []
            r.continue_after_tools(results)
            return True
        run = self.tool_run
        if run is None:
            return False
        if run.wants_filler():
            r.say_text(FILLER)
        result = run.result()
        if result is None:
            return False
        self.tool_run = None
        call = run.call
        self._tool_event(call, "error" if result.is_error else "done", short(result.text), run.elapsed_s)
        r.marks.tool_s += run.elapsed_s
        self._tool_result(call, result)
        return True

    def _start_tool(self, r: Reply, call) -> None:
        if self.tools is None or self.tool_rounds > MAX_ROUNDS:
            why = "no tools are available" if self.tools is None else "too many tool calls in one turn: answer now"
            self._tool_event(call, "error", why)
            self._tool_result(call, Outcome(why, True))
        elif self.tools.needs_consent(call.name):
            request = uuid.uuid4().hex[:12]
            question = self.tools.question(call.name, call.arguments)
            self.consent = (request, call)
            self.asked.add(call.call_id)
            self.emit(ToolCallEvent(self.turn, call.call_id, call.name, call.arguments, "asking"))
            self.emit(ConsentRequest(request, self.turn, call.name, call.arguments, question))
            r.say_text(question)
        else:
            self._run_tool(call)

    def _run_tool(self, call) -> None:
        self.emit(ToolCallEvent(self.turn, call.call_id, call.name, call.arguments, "running"))
        self.tool_run = ToolRun(self.tools, call)

    def _answer(self, decision: str) -> None:
        _, call = self.consent
        self.consent = None
        if self.reply is None:
            return
        if decision == "deny":
            self._tool_event(call, "denied")
            self._tool_result(call, Outcome("The user did not allow this tool call.", True))
            return
        if decision == "always":
            self.tools.allow_always(call.name)
        self._run_tool(call)

    def _tool_event(self, call, state: str, result: str | None = None, elapsed_s: float = 0.0) -> None:
        """A call ended (done, error, denied, cancelled): the event, and its line in the recording."""
        self.emit(ToolCallEvent(self.turn, call.call_id, call.name, call.arguments, state, result, elapsed_s))
        self._record_tool(call, "allowed" if state == "done" else state, result or "")

    def _record_tool(self, call, status: str, result: str) -> None:
        if self.recorder is not None:
            self.recorder.tool_call(call.name, call.arguments, status, result,
                                    asked=call.call_id in self.asked, turn=self.turn)

    def _tool_result(self, call, result: Outcome) -> None:
        self.results.append((call, ("Error: " if result.is_error else "") + result.text))

    # -- reminders ------------------------------------------------------------------------------------
    def _reminders(self) -> None:
        if self.tools is None or not hasattr(self.tools, "due_reminders"):
            return
        now = time.monotonic()
        if now < self._next_reminders:
            return
        self._next_reminders = now + REMINDER_POLL_S
        for rem in self.tools.due_reminders(time.time()):
            self.emit(ReminderEvent(rem.reminder_id, rem.text, rem.due_s))
            self.announcements.append(rem.text)
