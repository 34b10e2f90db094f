"""MoshiVis (Kyutai): talk with Moshi about an image. The SigLIP tower and the adapter in MLX
(siglip.py, modules.py), the LM adaptation (lm.py: gated cross-attention shared by every layer),
checkpoint names (weights.py), loading (loading.py) and image files (image.py)."""
