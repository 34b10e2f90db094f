"""moshi-quantize: Kyutai PyTorch checkpoints to 4/8-bit MLX checkpoints (import name moshi_quantize)."""
