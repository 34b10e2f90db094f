"""The voice assistant: Kyutai STT -> any mlx-lm chat model -> Kyutai TTS, streaming, on one MLX worker.

The contract the engine, its tools, the app's Assistant mode and the local APIs share:
`options.AssistantOptions` (what to run) and `events` (what the engine tells its listener).

    assistant = Assistant(listener)        # assistant/session.py, on engine/session_base.py
    assistant.start(AssistantOptions(...)) # returns at once; models load on the MLX worker
    assistant.send_text("What time is it?")  # a typed turn (interrupts a reply being spoken)
    assistant.interrupt()                  # stop the reply now (history keeps the words heard)
    assistant.answer_consent(request_id, "once" | "always" | "deny")
    assistant.stop()                       # blocking, idempotent
"""
