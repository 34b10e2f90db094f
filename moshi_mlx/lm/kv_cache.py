"""KV caches of the temporal transformer: one object per layer, owned by the caller (LmGen).

`RingKVCache` keeps the last `capacity` positions of a layer in a fixed-shape ring: position p sits
in slot p % capacity, like Kyutai's RingKVCache with capacity = context. Its memory is allocated
once, and a compiled step that holds the only reference to it updates it in place (see LmGen.submit).
`QuantizedRingKVCache` stores the ring quantized (mx.quantize groups), its attention through
`mx.quantized_matmul` (see attention.py). `LayerCaches` holds one cache per layer; iterating over it
gives the caches' arrays in layer order, which is what a compiled step takes and returns and what a
snapshot keeps."""

from __future__ import annotations

from typing import Iterator

import mlx.core as mx
import numpy as np


class RingKVCache:
    """One layer's keys and values [B, kv_heads, capacity, Dh].

    `offset`: the position the next update writes (an int, or an int32 scalar array inside a compiled
    step). `length` < capacity: a one-position update attends to the first `length` slots only (a
    compiled prefix variant, valid while offset < length: before the ring wraps)."""

    bits: int | None = None
    group_size: int | None = None
    arrays_per_layer = 2

    def __init__(self, keys: mx.array, values: mx.array, offset: int | mx.array = 0,
                 length: int | None = None):
        self.keys, self.values = keys, values
        self.offset = offset
        self.length = length

    @classmethod
    def zeros(cls, batch: int, heads: int, capacity: int, head_dim: int, dtype: mx.Dtype, **kw):
        shape = (batch, heads, capacity, head_dim)
        return cls(mx.zeros(shape, dtype=dtype), mx.zeros(shape, dtype=dtype), **kw)

    @property
    def capacity(self) -> int:
        return self.keys.shape[2]

    @property
    def dtype(self) -> mx.Dtype:
        return self.keys.dtype

    @property
    def state(self) -> list[mx.array]:
        return [self.keys, self.values]

    @state.setter
    def state(self, arrays) -> None:
        self.keys, self.values = arrays

    def attend(self, q: mx.array, keys, values, scale: float, mask: mx.array | None) -> mx.array:
        """Attention of q [B, H, T, Dh] over what `update_and_fetch` returned."""
        if q.dtype != keys.dtype:  # a 16-bit cache under float32 activations (see kv_cache_dtype)
            q = q.astype(keys.dtype)
        return mx.fast.scaled_dot_product_attention(q, keys, values, scale=scale, mask=mask)

    def release(self) -> None:
        """Drop the references to the arrays (a compiled step then owns the only ones)."""
        self.keys = self.values = None

    def reset(self) -> None:
        """Empty the ring: every slot zero, offset 0."""
        self.state = [mx.zeros_like(a) for a in self.state]
        self.offset = 0

    def is_trimmable(self) -> bool:
        """Positions can be taken back while none has been overwritten (the ring has not wrapped)."""
        return int(self.offset) <= self.capacity

    def trim(self, n: int) -> int:
        """Forget the last n positions (at most offset; none once the ring has wrapped): the next
        update writes where they were. Returns how many were taken back."""
        n = min(int(self.offset), n) if self.is_trimmable() else 0
        self.offset = int(self.offset) - n
        return n

    def _window(self) -> int:
        return self.capacity if self.length is None else min(self.length, self.capacity)

    def make_mask(self, T: int) -> mx.array:
        """The attention mask of the next update of T positions (call it before `update_and_fetch`).
        One position: valid slots among the window once `offset` is written. Several (an int offset):
        [T, used + T] for the keys `update_and_fetch` returns, each position seeing itself, the
        earlier ones of the chunk and the ring's, within the last `capacity` positions."""
        if T == 1:
            return mx.arange(self._window()) <= self.offset
        offset, capacity = int(self.offset), self.capacity
        used = self._used(T)
        last = offset - 1  # the ring holds positions <= last: slot s has the latest p = s (mod C)
        ring_pos = last - np.mod(last - np.arange(used), capacity)
        pos_q = offset + np.arange(T)
        delta = pos_q[:, None] - np.concatenate([ring_pos, pos_q])[None, :]
        valid = np.concatenate([ring_pos >= 0, np.ones(T, bool)])[None, :]
        return mx.array(valid & (delta >= 0) & (delta < capacity))

    def _used(self, T: int) -> int:
        # Before the ring wraps (a prompt at the start of a stream) only the first `offset` slots
        # hold positions, and all of them are in every new position's window.
        offset = int(self.offset)
        return offset if offset + T <= self.capacity else self.capacity

    def update_and_fetch(self, k: mx.array, v: mx.array):
        """Write k, v [B, kv_heads, T, Dh] (positions offset .. offset+T-1) and return the keys and
        values to attend to, matching `make_mask(T)`: the window of the ring for one position, the
        ring's used slots followed by the chunk for several."""
        T = k.shape[2]
        if T == 1:
            self.keys, self.values = ring_update(self.keys, self.values, k, v, self.offset)
            keys, values = self.keys, self.values
            if self._window() < self.capacity:
                keys, values = keys[:, :, :self._window()], values[:, :, :self._window()]
        else:
            used, offset = self._used(T), int(self.offset)
            keys = mx.concatenate([self.keys[:, :, :used], k.astype(self.dtype)], axis=2)
            values = mx.concatenate([self.values[:, :, :used], v.astype(self.dtype)], axis=2)
            self.keys = ring_write(self.keys, k, offset)
            self.values = ring_write(self.values, v, offset)
        self.offset = self.offset + T
        return keys, values


class LayerCaches:
    """One cache per layer. Iterating gives their arrays in layer order (k0, v0, k1, v1, ...)."""

    def __init__(self, layers: list[RingKVCache]):
        self.layers = layers

    def seek(self, offset: int | mx.array, length: int | None = None) -> "LayerCaches":
        """Set every layer's write position (and attended prefix, see RingKVCache)."""
        for c in self.layers:
            c.offset, c.length = offset, length
        return self

    @property
    def arrays(self) -> list[mx.array]:
        return [a for c in self.layers for a in c.state]

    @arrays.setter
    def arrays(self, arrays) -> None:
        arrays = list(arrays)
        n = len(arrays) // max(len(self.layers), 1)
        for i, c in enumerate(self.layers):
            c.state = arrays[i * n:(i + 1) * n]

    def release(self) -> None:
        for c in self.layers:
            c.release()

    def reset(self) -> None:
        for c in self.layers:
            c.reset()

    def trim(self, n: int) -> int:
        return min([c.trim(n) for c in self.layers], default=0)

    @property
    def bits(self) -> int | None:
        return self.layers[0].bits if self.layers else None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self)

    def __iter__(self) -> Iterator[mx.array]:
        return iter(self.arrays)

    def __len__(self) -> int:
        return sum(len(c.state) for c in self.layers)

    def __getitem__(self, i: int) -> mx.array:
        return self.arrays[i]


class QuantizedRingKVCache(RingKVCache):
    """A ring whose keys and values are stored quantized: each a triple (packed uint32 [B, H, C,
    Dh * bits / 32], scales and biases [B, H, C, Dh / group_size]) of mx.quantize. New positions
    are quantized as they are written, and attention reads them through `mx.quantized_matmul`
    (mx.fast.scaled_dot_product_attention takes no quantized keys): 8 bits in groups of 64 with
    float32 scales is 1.125 bytes per element instead of 4 (2 in bfloat16). Heads narrower than
    whole groups (the demo models' 16) are stored zero-padded to a whole number of groups: a zero
    in q and k adds nothing to a score, and the values' padding is cut from the output."""

    arrays_per_layer = 6

    def __init__(self, keys, values, offset: int | mx.array = 0, length: int | None = None, *,
                 bits: int = 8, group_size: int = 64):
        super().__init__(tuple(keys), tuple(values), offset, length)
        self.bits, self.group_size = bits, group_size

    @classmethod
    def zeros(cls, batch: int, heads: int, capacity: int, head_dim: int, dtype: mx.Dtype, *,
              bits: int = 8, group_size: int = 64, **kw):
        check_quantizable(bits, group_size)
        shape, width = (batch, heads, capacity), -(-head_dim // group_size) * group_size

        def empty():
            return (mx.zeros((*shape, width * bits // 32), dtype=mx.uint32),
                    mx.zeros((*shape, width // group_size), dtype=dtype),
                    mx.zeros((*shape, width // group_size), dtype=dtype))
        return cls(empty(), empty(), bits=bits, group_size=group_size, **kw)

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    @property
    def dtype(self) -> mx.Dtype:
        return self.keys[1].dtype

    @property
    def state(self) -> list[mx.array]:
        return [*self.keys, *self.values]

    @state.setter
    def state(self, arrays) -> None:
        arrays = list(arrays)
        self.keys, self.values = tuple(arrays[:3]), tuple(arrays[3:])

    def release(self) -> None:
        self.keys = self.values = (None, None, None)

    @property
    def width(self) -> int:
        """The stored (padded) head size."""
        return self.keys[1].shape[-1] * self.group_size

    def _pad(self, x: mx.array) -> mx.array:
        extra = self.width - x.shape[-1]
        return x if extra == 0 else mx.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, extra)])

    def _quantize(self, x: mx.array) -> tuple[mx.array, ...]:
        return tuple(mx.quantize(self._pad(x.astype(self.dtype)), group_size=self.group_size, bits=self.bits))

    def update_and_fetch(self, k: mx.array, v: mx.array):
        T = k.shape[2]
        qk, qv = self._quantize(k), self._quantize(v)
        if T == 1:
            slot = mx.remainder(self.offset, self.capacity).reshape(1)
            self.keys = tuple(mx.slice_update(r, c, slot, axes=(2,)) for r, c in zip(self.keys, qk))
            self.values = tuple(mx.slice_update(r, c, slot, axes=(2,)) for r, c in zip(self.values, qv))
            keys, values = self.keys, self.values
            if self._window() < self.capacity:
                keys, values = (tuple(a[:, :, :self._window()] for a in t) for t in (keys, values))
        else:
            used, offset = self._used(T), int(self.offset)
            keys = tuple(mx.concatenate([r[:, :, :used], c], axis=2) for r, c in zip(self.keys, qk))
            values = tuple(mx.concatenate([r[:, :, :used], c], axis=2) for r, c in zip(self.values, qv))
            self.keys = tuple(ring_write(r, c, offset) for r, c in zip(self.keys, qk))
            self.values = tuple(ring_write(r, c, offset) for r, c in zip(self.values, qv))
        self.offset = self.offset + T
        return keys, values

    def attend(self, q: mx.array, keys, values, scale: float, mask: mx.array | None) -> mx.array:
        """softmax(q k^T * scale) v with k and v quantized; grouped heads share their KV head."""
        B, H, T, Dh = q.shape
        heads, width = keys[0].shape[1], keys[1].shape[-1] * self.group_size
        q = self._pad(q.astype(self.dtype) * scale)
        if H != heads:  # [B, kv_heads, repeats, T, Dh] against keys [B, kv_heads, 1, L, ..]
            q = q.reshape(B, heads, H // heads, T, width)
            keys, values = (tuple(mx.expand_dims(a, 2) for a in t) for t in (keys, values))
        scores = mx.quantized_matmul(q, *keys, transpose=True, group_size=self.group_size, bits=self.bits)
        if mask is not None:
            scores = mx.where(mask, scores, mx.array(-mx.inf, scores.dtype))
        probs = mx.softmax(scores, axis=-1, precise=True)
        out = mx.quantized_matmul(probs, *values, transpose=False, group_size=self.group_size, bits=self.bits)
        out = out.reshape(B, H, T, width)
        return out if width == Dh else out[..., :Dh]


def check_quantizable(bits: int, group_size: int) -> None:
    """The quantizations mx.quantize offers for a KV cache."""
    if bits not in (4, 8):
        raise ValueError(f"KV cache bits must be 4 or 8, got {bits}")
    if group_size not in (32, 64, 128):
        raise ValueError(f"KV cache group size must be 32, 64 or 128, got {group_size}")


def kv_group_size(head_dim: int) -> int:
    """64 where it divides the head size (no padding), else 32 (the least padding)."""
    return 64 if head_dim % 64 == 0 else 32


def caches_over(arrays, bits: int | None = None, group_size: int = 64, offset: int | mx.array = 0,
                length: int | None = None) -> LayerCaches:
    """Per-layer caches over `arrays` (in the order iterating LayerCaches gives them): a compiled
    step's view of its array inputs."""
    arrays = list(arrays)
    if bits is None:
        layers = [RingKVCache(*arrays[i:i + 2]) for i in range(0, len(arrays), 2)]
    else:
        layers = [QuantizedRingKVCache(arrays[i:i + 3], arrays[i + 3:i + 6], bits=bits, group_size=group_size)
                  for i in range(0, len(arrays), 6)]
    return LayerCaches(layers).seek(offset, length)


def ring_mask(length: int, offset: mx.array) -> mx.array:
    """Valid slots among the first `length` of the ring once position `offset` is written."""
    return mx.arange(length) <= offset


def ring_update(keys: mx.array, values: mx.array, k: mx.array, v: mx.array, offset: mx.array):
    """Write position `offset` into slot offset % C of the ring [B, H, C, Dh]."""
    capacity = keys.shape[2]
    slot = mx.remainder(offset, capacity).reshape(1)
    if k.dtype != keys.dtype:
        k, v = k.astype(keys.dtype), v.astype(values.dtype)
    keys = mx.slice_update(keys, k, slot, axes=(2,))
    values = mx.slice_update(values, v, slot, axes=(2,))
    return keys, values


def ring_write(ring: mx.array, chunk: mx.array, offset: int) -> mx.array:
    """The ring [B, H, C, Dh] with positions offset .. offset+T-1 of `chunk` [B, H, T, Dh] written
    into their slots (position % C); of a chunk longer than C only the last C positions stay."""
    capacity, T = ring.shape[2], chunk.shape[2]
    chunk = chunk.astype(ring.dtype)
    if T > capacity:
        offset, chunk, T = offset + T - capacity, chunk[:, :, T - capacity:], capacity
    start = offset % capacity
    first = min(T, capacity - start)
    ring = mx.slice_update(ring, chunk[:, :, :first], mx.array([start]), axes=(2,))
    if first < T:  # the chunk wraps around the end of the ring
        ring = mx.slice_update(ring, chunk[:, :, first:], mx.array([0]), axes=(2,))
    return ring


def kv_cache_dtype(activations: mx.Dtype, cache_elements: int) -> mx.Dtype:
    """The ring's dtype: the activations', except that a float32 ring over 1 GiB is kept in bfloat16
    with its attention computed in bfloat16. Moshi 7B's 3000-frame ring is 2.9 GiB in float32 (it
    would not fit an 8 GB machine next to the 4-bit weights), 1.5 GiB in bfloat16; on the CPU backend
    that attention then costs ~1.5x its float32 time, ~4% of a 7B step (`moshi-mlx bench lm`)."""
    if activations == mx.float32 and cache_elements * 4 > 1 << 30:
        return mx.bfloat16
    return activations


def make_ring_cache(num_layers: int, batch: int, num_heads: int, head_dim: int, capacity: int,
                    dtype: mx.Dtype, bits: int | None = None, group_size: int = 64) -> LayerCaches:
    """Empty rings for `num_layers` layers; with `bits`, quantized (QuantizedRingKVCache)."""
    if bits is None:
        return LayerCaches([RingKVCache.zeros(batch, num_heads, capacity, head_dim, dtype)
                            for _ in range(num_layers)])
    return LayerCaches([QuantizedRingKVCache.zeros(batch, num_heads, capacity, head_dim, dtype, bits=bits,
                                                   group_size=group_size) for _ in range(num_layers)])
