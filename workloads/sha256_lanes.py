"""SHA-256 of many equal-length messages at once, one message per lane (GPU thread).

Neither CuPy nor PyTorch ships SHA-256, so the ledger workload's GPU back end hashes with
the CUDA kernel in `KERNEL_SOURCE`, one message per thread. Each message is
`prefix || data[i]`: a one-byte RFC 6962 domain-separation prefix (0x00 for a leaf, 0x01
for an interior node) followed by row `i` of a C-contiguous uint8 matrix, so neither
leaves nor nodes are copied into a prefixed buffer first.

`sha256_lanes_numpy` is a line-by-line numpy emulation of that kernel: the same byte
positions for padding (FIPS 180-4 §5.1.1), the same big-endian word packing (§3.1, §5.2.1)
and the same compression (§6.2.2), vectorised over lanes. Tests check it against hashlib
and compile `KERNEL_SOURCE` as C++ on the CPU, so the GPU roots can be trusted to be
bit-identical to the CPU's before a GPU ever runs them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

DIGEST_BYTES = 32
BLOCK_BYTES = 64
THREADS_PER_BLOCK = 256

# FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
# first 64 primes.
K: tuple[int, ...] = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4,
    0xAB1C5ED5, 0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE,
    0x9BDC06A7, 0xC19BF174, 0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F,
    0x4A7484AA, 0x5CB0A9DC, 0x76F988DA, 0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7,
    0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967, 0x27B70A85, 0x2E1B2138, 0x4D2C6DFC,
    0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85, 0xA2BFE8A1, 0xA81A664B,
    0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070, 0x19A4C116,
    0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7,
    0xC67178F2,
)  # fmt: skip

# FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the square roots of the
# first 8 primes.
H0: tuple[int, ...] = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
    0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip


def _c_array(values: tuple[int, ...]) -> str:
    return ", ".join(f"0x{v:08x}u" for v in values)


# One thread hashes one message `prefix || data[i*stride : i*stride + data_len]`.
# The byte at padded position p is chosen exactly as `_padded_bytes` below does: the
# prefix, then the data, then 0x80, then zeros, then the message length in bits as a
# 64-bit big-endian integer in the last 8 bytes (FIPS 180-4 §5.1.1). Words are packed
# big-endian (§3.1) and compressed per §6.2.2. n_blocks = floor((len + 8) / 64) + 1 is
# the least number of 64-byte blocks holding len + 1 + 8 bytes, so the length field
# always starts after the 0x80 byte.
KERNEL_NAME = "rfc6962_sha256"
KERNEL_SOURCE = (
    r"""
__constant__ unsigned int SHA256_K[64] = {"""
    + _c_array(K)
    + r"""};

__device__ __forceinline__ unsigned int rotr32(unsigned int x, unsigned int n)
{
    return (x >> n) | (x << (32u - n));
}

extern "C" __global__
void rfc6962_sha256(const unsigned char* __restrict__ data,
                    const unsigned long long n_msgs,
                    const unsigned int data_len,
                    const unsigned long long stride,
                    const unsigned int prefix,
                    unsigned char* __restrict__ out)
{
    const unsigned long long i =
        (unsigned long long)blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    if (i >= n_msgs) {
        return;
    }
    const unsigned char* msg = data + i * stride;
    const unsigned int len = data_len + 1u;
    const unsigned int n_blocks = (len + 8u) / 64u + 1u;
    const unsigned int len_pos = n_blocks * 64u - 8u;
    const unsigned long long bit_len = (unsigned long long)len * 8ull;

    unsigned int h[8] = {"""
    + _c_array(H0)
    + r"""};
    unsigned int w[64];
    for (unsigned int b = 0; b < n_blocks; ++b) {
#pragma unroll
        for (unsigned int t = 0; t < 16u; ++t) {
            unsigned int word = 0u;
#pragma unroll
            for (unsigned int j = 0; j < 4u; ++j) {
                const unsigned int p = b * 64u + t * 4u + j;
                unsigned int byte;
                if (p == 0u) {
                    byte = prefix & 0xffu;
                } else if (p < len) {
                    byte = msg[p - 1u];
                } else if (p == len) {
                    byte = 0x80u;
                } else if (p >= len_pos) {
                    byte = (unsigned int)((bit_len >> (8u * (7u - (p - len_pos)))) & 0xffull);
                } else {
                    byte = 0u;
                }
                word = (word << 8) | byte;
            }
            w[t] = word;
        }
#pragma unroll
        for (unsigned int t = 16; t < 64u; ++t) {
            const unsigned int s0 = rotr32(w[t - 15], 7) ^ rotr32(w[t - 15], 18) ^ (w[t - 15] >> 3);
            const unsigned int s1 = rotr32(w[t - 2], 17) ^ rotr32(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        unsigned int a = h[0], bb = h[1], c = h[2], d = h[3];
        unsigned int e = h[4], f = h[5], g = h[6], hh = h[7];
#pragma unroll
        for (unsigned int t = 0; t < 64u; ++t) {
            const unsigned int big_s1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
            const unsigned int ch = (e & f) ^ (~e & g);
            const unsigned int t1 = hh + big_s1 + ch + SHA256_K[t] + w[t];
            const unsigned int big_s0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
            const unsigned int maj = (a & bb) ^ (a & c) ^ (bb & c);
            const unsigned int t2 = big_s0 + maj;
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = bb;
            bb = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += bb;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
    unsigned char* digest = out + i * 32ull;
#pragma unroll
    for (unsigned int q = 0; q < 8u; ++q) {
        digest[4u * q + 0u] = (unsigned char)(h[q] >> 24);
        digest[4u * q + 1u] = (unsigned char)(h[q] >> 16);
        digest[4u * q + 2u] = (unsigned char)(h[q] >> 8);
        digest[4u * q + 3u] = (unsigned char)h[q];
    }
}
"""
)


def _check_lanes(prefix: int, data: Any) -> None:
    if not 0 <= prefix <= 0xFF:
        raise ValueError(f"prefix must be one byte (0..255), got {prefix}")
    if data.ndim != 2 or data.dtype != np.uint8:
        raise ValueError(f"data must be a 2-D uint8 matrix, got {data.ndim}-D {data.dtype}")
    if not data.flags.c_contiguous:
        raise ValueError("data must be C-contiguous: the kernel reads row i at i * row length")


def _padded_bytes(prefix: int, data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Return each lane's padded message, (lanes, n_blocks * 64) bytes, as the kernel builds it."""
    lanes, data_len = data.shape
    length = data_len + 1
    n_blocks = (length + 8) // BLOCK_BYTES + 1
    len_pos = n_blocks * BLOCK_BYTES - 8
    padded = np.zeros((lanes, n_blocks * BLOCK_BYTES), dtype=np.uint8)
    padded[:, 0] = prefix
    padded[:, 1:length] = data
    padded[:, length] = 0x80
    bit_len = np.array([length * 8], dtype=">u8").view(np.uint8)
    padded[:, len_pos:] = bit_len
    return padded


def _rotr(x: npt.NDArray[np.uint32], n: int) -> npt.NDArray[np.uint32]:
    return (x >> np.uint32(n)) | (x << np.uint32(32 - n))


def sha256_lanes_numpy(prefix: int, data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Return SHA-256(prefix || row) for every row of `data`, as (rows, 32) bytes.

    A numpy emulation of `KERNEL_SOURCE`, lane for lane, for tests and for checking the
    GPU path's layout on a machine without a GPU. It is far slower than hashlib.

    Args:
        prefix: the one-byte prefix (0x00 leaf, 0x01 node in RFC 6962).
        data: C-contiguous uint8 matrix, one message body per row.

    Raises:
        ValueError: `prefix` is not a byte or `data` is not a contiguous uint8 matrix.

    """
    _check_lanes(prefix, data)
    padded = _padded_bytes(prefix, data)
    lanes = padded.shape[0]
    # FIPS 180-4 §3.1: words are big-endian.
    words = padded.view(">u4").astype(np.uint32).reshape(lanes, -1, 16)
    h = [np.full(lanes, v, dtype=np.uint32) for v in H0]
    k = np.array(K, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for block in range(words.shape[1]):
            w = [words[:, block, t].copy() for t in range(16)]
            for t in range(16, 64):
                s0 = _rotr(w[t - 15], 7) ^ _rotr(w[t - 15], 18) ^ (w[t - 15] >> np.uint32(3))
                s1 = _rotr(w[t - 2], 17) ^ _rotr(w[t - 2], 19) ^ (w[t - 2] >> np.uint32(10))
                w.append(w[t - 16] + s0 + w[t - 7] + s1)
            a, b, c, d, e, f, g, hh = h
            for t in range(64):
                t1 = hh + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g))
                t1 = t1 + k[t] + w[t]
                t2 = (_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
                hh, g, f, e, d, c, b, a = g, f, e, d + t1, c, b, a, t1 + t2
            h = [x + y for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True)]
    digest_words = np.stack(h, axis=1).astype(">u4")
    return digest_words.view(np.uint8).reshape(lanes, DIGEST_BYTES)


class CupyLanes:
    """Hashes lanes on an NVIDIA GPU with `KERNEL_SOURCE` compiled by CuPy (NVRTC).

    Args:
        cupy: the imported `cupy` module.

    """

    def __init__(self, cupy: Any) -> None:
        self._cp = cupy
        self._kernel = cupy.RawKernel(KERNEL_SOURCE, KERNEL_NAME)

    def __call__(self, prefix: int, data: Any) -> Any:
        """Return SHA-256(prefix || row) for every row of the device matrix `data`."""
        _check_lanes(prefix, data)
        lanes, data_len = data.shape
        out = self._cp.empty((lanes, DIGEST_BYTES), dtype=self._cp.uint8)
        if lanes:
            grid = ((lanes + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK,)
            # Scalar types must match the kernel's signature exactly: CuPy passes numpy
            # scalars by their dtype's size.
            args = (
                data,
                np.uint64(lanes),
                np.uint32(data_len),
                np.uint64(data_len),
                np.uint32(prefix),
                out,
            )
            self._kernel(grid, (THREADS_PER_BLOCK,), args)
        return out
