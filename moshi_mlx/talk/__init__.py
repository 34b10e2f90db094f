"""The talk commands (`chat`, `run`) and the echo-canceller bench: front ends over `engine/`."""
