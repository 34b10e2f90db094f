"""Audio devices, streams' building blocks and resampling, shared by the engine's duplex stream
(engine/live.py), TTS playback (tts/player.py) and the app's player and voice recorder. No MLX and
no Qt here.

- devices.py: device lookup (by index or name), listing, the sample rate to open a device at;
- ring.py: the preallocated ring buffer a real-time callback copies into (never allocates);
- resample.py: a streaming resampler (soxr), or a pass-through when the rates match.
"""
