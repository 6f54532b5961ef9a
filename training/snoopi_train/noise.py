"""The serving pipeline's latent noise, bit for bit: xoshiro256** seeded by SplitMix64, Box–Muller
on the top 53 bits of each output (gpu-service/src/diffusion/gaussian-noise.ts). Used to make the
export's reference images, which the TypeScript pipeline must reproduce."""
from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro256StarStar:
    def __init__(self, seed: int):
        counter = seed & MASK
        state = []
        for _ in range(4):
            counter = (counter + 0x9E3779B97F4A7C15) & MASK
            z = counter
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            state.append(z ^ (z >> 31))
        self.s = state

    def next_uint64(self) -> int:
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_double(self) -> float:
        return (self.next_uint64() >> 11) * 2.0**-53


def gaussian_noise(seed: int, count: int) -> np.ndarray:
    rng = Xoshiro256StarStar(seed)
    out = np.empty(count, dtype=np.float32)
    for i in range(0, count, 2):
        u1 = 1 - rng.next_double()
        theta = 2 * math.pi * rng.next_double()
        r = math.sqrt(-2 * math.log(u1))
        out[i] = r * math.cos(theta)
        if i + 1 < count:
            out[i + 1] = r * math.sin(theta)
    return out
