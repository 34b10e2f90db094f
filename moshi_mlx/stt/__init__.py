"""Kyutai STT: streaming speech to text with the family engine (model_type "stt").

- transcriber.py `Transcriber`: audio in (any block size), `TextPiece` / `Word` / `EndOfTurn` out
  (events.py), `flush()` at a stream's end, `reset()` for the next; MLX on the caller's thread.
- words.py: word times from the text stream; formats.py: txt, srt, vtt, json, live captions.
- files.py `transcribe_file`: a file with progress and cancel; live.py `LiveTranscription`: the
  microphone on the MLX worker thread, with events (both used by the commands and the app).
- transcribe_cli.py, listen_cli.py: `python -m moshi_mlx transcribe | listen`; bench.py: `bench stt`.
Importing these modules does not import MLX (the app's UI process stays free of it).
"""
