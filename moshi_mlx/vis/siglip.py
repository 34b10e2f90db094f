"""SigLIP vision tower (HF `SiglipVisionTransformer` without its head), as MoshiVis uses it: patch
convolution + learned positions, pre-norm ViT layers with biases, a final LayerNorm. Parameter
names follow HF's, under `embeddings`, `encoder.layers`, `post_layernorm`."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from .config import SiglipConfig


def gelu_tanh(x: mx.array) -> mx.array:
    """HF's gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1 + mx.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


class Embeddings(nn.Module):
    def __init__(self, c: SiglipConfig):
        super().__init__()
        self.patch_embedding = nn.Conv2d(c.num_channels, c.hidden_size, c.patch_size, stride=c.patch_size)
        self.position_embedding = nn.Embedding(c.num_patches, c.hidden_size)

    def __call__(self, pixels: mx.array) -> mx.array:
        """pixels [B, H, W, C] -> [B, patches, hidden] (patches row-major)."""
        x = self.patch_embedding(pixels)
        x = x.reshape(x.shape[0], -1, x.shape[-1])
        return x + self.position_embedding.weight.astype(x.dtype)


class Attention(nn.Module):
    def __init__(self, c: SiglipConfig):
        super().__init__()
        d = c.hidden_size
        self.num_heads = c.num_attention_heads
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.scale = (d // self.num_heads) ** -0.5

    def __call__(self, x: mx.array) -> mx.array:
        B, T, D = x.shape
        q, k, v = (p(x).reshape(B, T, self.num_heads, -1).transpose(0, 2, 1, 3)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.out_proj(out.transpose(0, 2, 1, 3).reshape(B, T, D))


class Mlp(nn.Module):
    def __init__(self, c: SiglipConfig):
        super().__init__()
        self.fc1 = nn.Linear(c.hidden_size, c.intermediate_size)
        self.fc2 = nn.Linear(c.intermediate_size, c.hidden_size)

    def __call__(self, x: mx.array) -> mx.array:
        return self.fc2(gelu_tanh(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c: SiglipConfig):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.self_attn = Attention(c)
        self.layer_norm2 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.mlp = Mlp(c)

    def __call__(self, x: mx.array) -> mx.array:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c: SiglipConfig):
        super().__init__()
        self.layers = [EncoderLayer(c) for _ in range(c.num_hidden_layers)]


class SiglipVision(nn.Module):
    """pixels [B, H, W, 3] in [-1, 1] (H = W = image_size) -> last hidden state [B, patches, hidden]."""

    def __init__(self, config: SiglipConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def __call__(self, pixels: mx.array) -> mx.array:
        x = self.embeddings(pixels)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.post_layernorm(x)
