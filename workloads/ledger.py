"""The `ledger` workload: SHA-256 Merkle trees (RFC 6962) over transactions, chained into blocks.

A batch seals one block: it hashes every transaction record as an RFC 6962 leaf, builds
the Merkle tree over them, and hashes the block header that chains the new root to the
previous block. The unit is one transaction (`bytes_per_unit` bytes of record).

Hashing follows RFC 6962 §2.1: leaf = SHA-256(0x00 || record), node =
SHA-256(0x01 || left || right), and a tree of n > 1 leaves splits at k, the largest power
of two smaller than n. The empty tree hashes to SHA-256 of the empty string. A block
header is prev_hash (32 B) || merkle_root (32 B) || height (8 B big-endian); the block
hash is SHA-256(header); the genesis block's prev_hash is 32 zero bytes.

Check a root by hand: `head -c 1 /dev/zero | openssl dgst -sha256` prints the leaf hash of
the empty record, 6e340b9c...afa01d, which is also the root of that one-leaf tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from workloads.base import (
    Backend,
    BackendUnavailable,
    Size,
    Workload,
    WorkloadError,
    parse_device,
    parse_size,
)
from workloads.batch_size import BatchSizing, saturating_batch, timed_batches
from workloads.sha256_lanes import CupyLanes

__all__ = [
    "DEFAULT_RECORD_BYTES",
    "GENESIS_PREV",
    "HASH_BYTES",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "LedgerWorkload",
    "block_hash",
    "block_header",
    "leaf_hash",
    "merkle_root",
    "merkle_root_recursive",
    "node_hash",
    "synthetic_records",
    "tree_root_lanes",
]

HASH_BYTES = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
GENESIS_PREV = bytes(HASH_BYTES)
DEFAULT_RECORD_BYTES = 256
_MAX_HEIGHT = 2**64 - 1

# Transactions per block. A block of standard size takes ~14 ms on one core with SHA-NI
# (~0.85 us per transaction: a 257-byte leaf plus, on average, one 65-byte node hash),
# inside the 10-50 ms batch the Workload interface asks for; large ~28 ms. Small is for CI
# and is deliberately shorter.
_TX_PER_BLOCK = {Size.SMALL: 2048, Size.STANDARD: 16384, Size.LARGE: 32768}
# Distinct blocks of transactions held in memory; batches cycle through them so that
# consecutive blocks hash different records, as a real ledger does.
_BLOCKS_IN_POOL = {Size.SMALL: 2, Size.STANDARD: 4, Size.LARGE: 4}
# On a GPU a block must be far larger to keep the device busy: ~7 compressions per
# transaction (five for a 257-byte leaf, two for a node) and one launch per tree level.
# The transactions per block are calibrated in prepare() by `workloads.batch_size`'s rule
# (double from the first size while throughput rises by 10 % or more, within 50 ms per
# block) up to the second size, the pool's; small stays small so a GPU check runs quickly.
_TX_RANGE_GPU = {
    Size.SMALL: (2**14, 2**14),
    Size.STANDARD: (2**14, 2**21),
    Size.LARGE: (2**14, 2**22),
}
_BLOCKS_IN_POOL_GPU = {Size.SMALL: 2, Size.STANDARD: 2, Size.LARGE: 2}

# Fixed header of a synthetic transaction record, big-endian as on the wire. The rest of
# the record is a random payload (memo, signature). A record shorter than this header
# keeps the header's first `record_bytes` bytes.
_TX_FIELDS = np.dtype(
    [
        ("tx_id", ">u8"),
        ("timestamp_ns", ">u8"),
        ("payer", ">u8"),
        ("payee", ">u8"),
        ("amount_minor", ">i8"),
        ("currency", "S3"),
        ("kind", "u1"),
        ("fee_minor", ">u4"),
    ]
)
_CURRENCIES = np.array([b"USD", b"EUR", b"GBP", b"JPY", b"CHF", b"CNY"], dtype="S3")
_EPOCH_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z: transactions start here.

_sha256 = hashlib.sha256
_digest = type(hashlib.sha256()).digest


def leaf_hash(record: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || record), 32 bytes."""
    return _sha256(LEAF_PREFIX + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right), 32 bytes."""
    return _sha256(NODE_PREFIX + left + right).digest()


def merkle_root_recursive(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash of `leaves` by RFC 6962 §2.1's recursive definition.

    The reference that `merkle_root` is tested against: MTH({}) = SHA-256(), MTH({d0}) =
    leaf hash of d0, and for n > 1, with k the largest power of two smaller than n,
    MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
    """
    n = len(leaves)
    if n == 0:
        return _sha256(b"").digest()
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(merkle_root_recursive(leaves[:k]), merkle_root_recursive(leaves[k:]))


def _root_of_leaf_hashes(level: list[bytes]) -> bytes:
    """Return the RFC 6962 root over leaf hashes, bottom-up (iteratively).

    Hashing adjacent pairs level by level and carrying an odd last node up unchanged gives
    the same tree as RFC 6962's split at the largest power of two k < n: the left subtree
    (k leaves) pairs evenly at every level, so pairs never straddle the split, and the
    right subtree's lone last node is promoted exactly as the recursion promotes it. This
    differs from Bitcoin-style trees, which duplicate the last node instead of carrying it.
    """
    one, sha, digest = repeat(NODE_PREFIX), _sha256, _digest
    while len(level) > 1:
        pairs = iter(level)
        # zip(it, it) pairs neighbours; strict=False because `one` repeats forever and an
        # odd last node is left over. Chained map over C functions keeps the per-node cost
        # to hashlib's call overhead plus one join, ~5% faster than a comprehension.
        upper = list(map(digest, map(sha, map(b"".join, zip(one, pairs, pairs, strict=False)))))
        if len(level) % 2:
            upper.append(level[-1])
        level = upper
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle Tree Hash of the records `leaves`, 32 bytes.

    Computed bottom-up; equal to `merkle_root_recursive` for every number of leaves. The
    empty tree hashes to SHA-256 of the empty string.
    """
    if not leaves:
        return _sha256(b"").digest()
    prefix = LEAF_PREFIX
    return _root_of_leaf_hashes(list(map(_digest, map(_sha256, map(prefix.__add__, leaves)))))


def block_header(prev: bytes, root: bytes, height: int) -> bytes:
    """Return the 72-byte block header prev (32 B) || root (32 B) || height (8 B big-endian).

    Raises:
        WorkloadError: `prev` or `root` is not 32 bytes, or `height` is outside 0..2**64-1.

    """
    if len(prev) != HASH_BYTES:
        raise WorkloadError(f"prev must be a {HASH_BYTES}-byte hash, got {len(prev)} bytes")
    if len(root) != HASH_BYTES:
        raise WorkloadError(f"root must be a {HASH_BYTES}-byte hash, got {len(root)} bytes")
    if not 0 <= height <= _MAX_HEIGHT:
        raise WorkloadError(f"height must be in 0..2**64-1 (8-byte big-endian), got {height}")
    return prev + root + height.to_bytes(8, "big")


def block_hash(prev: bytes, root: bytes, height: int) -> bytes:
    """Return the block hash SHA-256(prev || root || height as 8 bytes big-endian).

    Raises:
        WorkloadError: `prev` or `root` is not 32 bytes, or `height` is outside 0..2**64-1.

    """
    return _sha256(block_header(prev, root, height)).digest()


def tree_root_lanes(records: Any, hash_lanes: Callable[[int, Any], Any], xp: Any) -> bytes:
    """Return the RFC 6962 root of the rows of `records`, hashing one level per call.

    The GPU path: `hash_lanes(prefix, matrix)` hashes every row of `matrix` behind a
    one-byte prefix (`sha256_lanes.CupyLanes` on a GPU, `sha256_lanes_numpy` in tests),
    and `xp` is the matching array module. Leaves are hashed from the records in place;
    each level hashes the previous level's digests reshaped to (pairs, 64), i.e.
    0x01 || left || right, and carries an odd last node up as `_root_of_leaf_hashes` does.

    Args:
        records: (n, record_bytes) C-contiguous uint8 matrix.
        hash_lanes: callable (prefix, matrix) -> (rows, 32) uint8 matrix.
        xp: numpy or cupy.

    """
    n = records.shape[0]
    if n == 0:
        return _sha256(b"").digest()
    level = hash_lanes(LEAF_PREFIX[0], records)
    while level.shape[0] > 1:
        rows = level.shape[0]
        pairs = level[: rows - rows % 2].reshape(rows // 2, 2 * HASH_BYTES)
        upper = hash_lanes(NODE_PREFIX[0], pairs)
        if rows % 2:
            upper = xp.concatenate((upper, level[rows - 1 :]))
        level = upper
    root = level[0]
    # cupy arrays copy to the host with .get(), which also waits for the kernels.
    host = root.get() if hasattr(root, "get") else root
    return bytes(np.asarray(host, dtype=np.uint8))


def synthetic_records(
    n: int, record_bytes: int, rng: np.random.Generator, first_tx_id: int = 0
) -> npt.NDArray[np.uint8]:
    """Return `n` synthetic transaction records as an (n, record_bytes) uint8 matrix.

    Each record starts with a big-endian header (id, timestamp in ns, payer and payee
    account numbers, amount and fee in minor units, currency, kind); the rest is random
    payload standing in for memo and signature.
    """
    header = np.zeros(n, dtype=_TX_FIELDS)
    header["tx_id"] = np.arange(first_tx_id, first_tx_id + n, dtype=np.uint64)
    gaps_ns = rng.exponential(1e6, size=n).astype(np.uint64)  # ~1000 transactions/s
    header["timestamp_ns"] = np.uint64(_EPOCH_NS) + np.cumsum(gaps_ns, dtype=np.uint64)
    header["payer"] = rng.integers(10**9, 10**10, size=n, dtype=np.uint64)
    header["payee"] = rng.integers(10**9, 10**10, size=n, dtype=np.uint64)
    header["amount_minor"] = np.round(rng.lognormal(9.0, 2.0, size=n)).astype(np.int64)
    header["currency"] = rng.choice(_CURRENCIES, size=n)
    header["kind"] = rng.integers(0, 4, size=n, dtype=np.uint8)
    header["fee_minor"] = rng.integers(0, 500, size=n, dtype=np.uint32)
    out = rng.integers(0, 256, size=(n, record_bytes), dtype=np.uint8)
    width = min(record_bytes, _TX_FIELDS.itemsize)
    out[:, :width] = header.view(np.uint8).reshape(n, _TX_FIELDS.itemsize)[:, :width]
    return out


class LedgerWorkload(Workload):
    """Seal blocks of RFC 6962 Merkle-hashed transactions into a SHA-256 hash chain.

    Unit: one transaction hashed; `bytes_per_unit` is the record size in bytes. A batch
    seals one block of `tx_per_block` transactions (chosen by size and back end) and returns
    that count.

    Back ends: "numpy" hashes on the CPU with hashlib (OpenSSL). "cupy" hashes every leaf
    and every tree level on the GPU with `sha256_lanes.KERNEL_SOURCE`, one message per
    thread, and gives bit-identical roots. "torch" is refused: torch has no SHA-256, and
    quietly hashing on the CPU would charge CPU work to the GPU being profiled.

    Args:
        record_bytes: size of one transaction record in bytes (default 256).

    Raises:
        WorkloadError: `record_bytes` is not a positive integer.

    """

    name: ClassVar[str] = "ledger"
    unit: ClassVar[str] = "transaction"
    bytes_per_unit: ClassVar[int | None] = DEFAULT_RECORD_BYTES

    def __init__(self, record_bytes: int = DEFAULT_RECORD_BYTES) -> None:
        if isinstance(record_bytes, bool) or not isinstance(record_bytes, int):
            raise WorkloadError(f"record_bytes must be a positive integer, got {record_bytes!r}")
        if record_bytes <= 0:
            raise WorkloadError(f"record_bytes must be a positive integer, got {record_bytes}")
        self.record_bytes = record_bytes
        if record_bytes != DEFAULT_RECORD_BYTES:
            # Workload declares bytes_per_unit as a class variable; a ledger of another
            # record size shadows it per instance so the reported bytes stay exact.
            self.__dict__["bytes_per_unit"] = record_bytes
        self.tx_per_block = 0
        self._backend: Backend | None = None
        self._leaf_inputs: list[list[bytes]] = []
        self._device_records: list[Any] = []
        self._records: npt.NDArray[np.uint8] = np.zeros((0, 0, record_bytes), dtype=np.uint8)
        self._gpu: CupyLanes | None = None
        self._gpu_index = 0
        self._tip = GENESIS_PREV
        self._height = 0
        self._last_root: bytes | None = None
        self.batch_sizing: BatchSizing | None = None

    @property
    def height(self) -> int:
        """Height the next block will have; equals the number of blocks sealed so far."""
        return self._height

    @property
    def tip(self) -> bytes:
        """Hash of the last sealed block; 32 zero bytes (genesis prev) before the first."""
        return self._tip

    @property
    def last_root(self) -> bytes | None:
        """Merkle root of the last sealed block, or None before the first."""
        return self._last_root

    def block_records(self, height: int) -> list[bytes]:
        """Return the raw transaction records that the block at `height` contains."""
        if not self._backend:
            raise WorkloadError("call prepare() before block_records()")
        if height < 0:
            raise WorkloadError(f"height must be >= 0, got {height}")
        block = self._records[height % len(self._records)]
        return [row.tobytes() for row in block]

    def prepare(
        self, size: str | Size, seed: int | np.random.SeedSequence, backend: Backend
    ) -> None:
        """Generate the transaction pool for `size` from `seed` and reset the chain to genesis.

        Raises:
            WorkloadError: unknown `size` or `backend` name.
            BackendUnavailable: `backend` is torch, or CuPy cannot compile the kernel.

        """
        self._backend = None  # a prepare that fails part way leaves nothing runnable
        parsed = parse_size(size)
        if backend.name not in ("numpy", "cupy", "torch"):
            raise WorkloadError(f"backend must be numpy, cupy or torch, got {backend.name!r}")
        if backend.name == "torch":
            raise BackendUnavailable(
                "ledger on GPU needs CuPy: torch has no SHA-256, and hashing on the CPU "
                "instead would charge CPU work to the GPU; install the CuPy wheel for the "
                "driver's CUDA major version: finwatt[gpu] (CUDA 12) or finwatt[gpu-cuda13]"
            )
        on_gpu = backend.name == "cupy"
        n = _TX_RANGE_GPU[parsed][1] if on_gpu else _TX_PER_BLOCK[parsed]
        blocks = (_BLOCKS_IN_POOL_GPU if on_gpu else _BLOCKS_IN_POOL)[parsed]
        rng = np.random.default_rng(seed)
        records = synthetic_records(n * blocks, self.record_bytes, rng)
        self._records = records.reshape(blocks, n, self.record_bytes)
        self.tx_per_block = n
        self._leaf_inputs = []
        self._device_records = []
        self._gpu = None
        self.batch_sizing = None
        if not on_gpu:
            # Each transaction is kept in its RFC 6962 leaf-input encoding 0x00 || record,
            # so the hot loop does not allocate a concatenation per leaf. SHA-256 still
            # consumes all 1 + record_bytes bytes on every call: nothing is cached.
            width = self.record_bytes + 1
            encoded = np.zeros((n * blocks, width), dtype=np.uint8)
            encoded[:, 1:] = records
            flat = encoded.tobytes()
            for b in range(blocks):
                start = b * n * width
                self._leaf_inputs.append(
                    [flat[i : i + width] for i in range(start, start + n * width, width)]
                )
        else:
            self._prepare_gpu(backend, _TX_RANGE_GPU[parsed][0])
        self._backend = backend
        self._tip = GENESIS_PREV
        self._height = 0
        self._last_root = None

    def _prepare_gpu(self, backend: Backend, start_tx: int) -> None:
        """Compile the kernel, copy the pool to the GPU and calibrate the block size."""
        kind, self._gpu_index = parse_device(backend.device)
        if kind != "gpu":
            raise WorkloadError(f"device must be 'gpu:N' for cupy, got {backend.device!r}")
        cupy = backend.module
        with cupy.cuda.Device(self._gpu_index):
            try:
                gpu = self._gpu = CupyLanes(cupy)
                self._device_records = [cupy.asarray(block) for block in self._records]
                tree_root_lanes(self._device_records[0][:2], gpu, cupy)
            except cupy.cuda.compiler.CompileException as err:
                raise BackendUnavailable(
                    f"CuPy could not compile the SHA-256 kernel: {err}"
                ) from err
            if start_tx >= self.tx_per_block:
                return
            first = self._device_records[0]
            # tree_root_lanes copies the root to the host, which waits for the kernels.
            self.batch_sizing = saturating_batch(
                timed_batches(lambda n: tree_root_lanes(first[:n], gpu, cupy), lambda: None),
                start_tx,
                self.tx_per_block,
            )
        n = self.tx_per_block = self.batch_sizing.units
        self._records = self._records[:, :n]
        self._device_records = [records[:n] for records in self._device_records]

    def run_batch(self) -> int:
        """Seal one block of `tx_per_block` transactions and return that count."""
        backend = self._backend
        if backend is None:
            raise WorkloadError("call prepare() before run_batch()")
        if self._gpu is None:
            leaf_inputs = self._leaf_inputs[self._height % len(self._leaf_inputs)]
            root = _root_of_leaf_hashes(list(map(_digest, map(_sha256, leaf_inputs))))
        else:
            cupy = backend.module
            with cupy.cuda.Device(self._gpu_index):
                records = self._device_records[self._height % len(self._device_records)]
                root = tree_root_lanes(records, self._gpu, cupy)
        self._tip = _sha256(self._tip + root + self._height.to_bytes(8, "big")).digest()
        self._last_root = root
        self._height += 1
        return self.tx_per_block
