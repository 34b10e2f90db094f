"""Hibiki: Kyutai's streaming speech translation (Hibiki 1B/2B French to English, Hibiki-Zero 3B
French/Spanish/Portuguese/German to English), on the shared engine.

The source speech is the user stream; the model speaks the translation and writes it as text.
- `setup.py`: the kind's StreamSetup (the "description" condition, classifier-free guidance) and
  its post-load fix-up (the EOS text embedding reads as PAD);
- `translator.py`: a file translated frame by frame with Kyutai's end-of-input protocol;
- `cli.py`: `python -m moshi_mlx translate` (a file, or `--live` from the microphone).
Importing this package imports nothing heavy."""

KIND = "hibiki"  # config.json model_type (moshi_mlx/kinds.py)
