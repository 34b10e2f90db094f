"""The conversation engine: model loading, the per-frame pipeline, live audio, recording."""
