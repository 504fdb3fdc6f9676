import ctypes
import hashlib
import shutil
import subprocess
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import workloads.ledger as ledger_module
from workloads import sha256_lanes
from workloads.base import Backend, BackendUnavailable, Size, WorkloadError
from workloads.ledger import (
    GENESIS_PREV,
    LedgerWorkload,
    block_hash,
    block_header,
    leaf_hash,
    merkle_root,
    merkle_root_recursive,
    node_hash,
    tree_root_lanes,
)

NUMPY = Backend("numpy", "cpu", np)

# Certificate Transparency's Merkle test data (certificate-transparency C++
# merkle_tree_test.cc and certificate-transparency-go merkle tests): the leaf inputs and
# the published Merkle Tree Hash of the first n of them for n = 1..8.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def lanes_root(leaves: list[bytes]) -> bytes:
    """Root through the GPU path's level loop, hashing with the kernel's numpy emulation."""
    width = len(leaves[0]) if leaves else 1
    matrix = np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(len(leaves), width)
    return tree_root_lanes(matrix, sha256_lanes.sha256_lanes_numpy, np)


# --- RFC 6962 / CT vectors --------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 9))
def test_ct_vectors_bottom_up(n: int) -> None:
    assert merkle_root(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize("n", range(1, 9))
def test_ct_vectors_recursive(n: int) -> None:
    assert merkle_root_recursive(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1]


def test_empty_tree_is_sha256_of_nothing() -> None:
    assert merkle_root([]).hex() == EMPTY_ROOT
    assert merkle_root_recursive([]).hex() == EMPTY_ROOT
    assert hashlib.sha256(b"").hexdigest() == EMPTY_ROOT


def test_leaf_and_node_prefixes() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert merkle_root([b"a", b"b"]) == node_hash(left, right)


def test_odd_tree_is_not_bitcoin_style_duplication() -> None:
    # RFC 6962 promotes the lone third leaf; Bitcoin would hash it with a copy of itself.
    a, b, c = (leaf_hash(x) for x in CT_LEAVES[:3])
    assert merkle_root(CT_LEAVES[:3]) == node_hash(node_hash(a, b), c)
    assert merkle_root(CT_LEAVES[:3]) != node_hash(node_hash(a, b), node_hash(c, c))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0, max_value=2**32))
def test_bottom_up_agrees_with_recursive(n: int, salt: int) -> None:
    leaves = [hashlib.sha256(f"{salt}:{i}".encode()).digest()[: i % 40] for i in range(n)]
    assert merkle_root(leaves) == merkle_root_recursive(leaves)


# --- block chain ------------------------------------------------------------------------


def test_block_header_layout_and_hash() -> None:
    root = bytes(range(32))
    header = block_header(GENESIS_PREV, root, 258)
    assert header == bytes(32) + root + b"\x00\x00\x00\x00\x00\x00\x01\x02"
    assert block_hash(GENESIS_PREV, root, 258) == hashlib.sha256(header).digest()


@pytest.mark.parametrize(
    ("prev", "root", "height", "param"),
    [
        (bytes(31), bytes(32), 0, "prev"),
        (bytes(32), bytes(33), 0, "root"),
        (bytes(32), bytes(32), -1, "height"),
        (bytes(32), bytes(32), 2**64, "height"),
    ],
)
def test_block_hash_rejects_bad_input(prev: bytes, root: bytes, height: int, param: str) -> None:
    with pytest.raises(WorkloadError, match=param):
        block_hash(prev, root, height)


def test_chain_from_genesis() -> None:
    work = LedgerWorkload()
    work.prepare("small", 7, NUMPY)
    assert work.tip == GENESIS_PREV
    assert work.height == 0
    expected = GENESIS_PREV
    for height in range(3):
        assert work.run_batch() == work.tx_per_block == 2048
        root = merkle_root(work.block_records(height))
        assert work.last_root == root
        expected = block_hash(expected, root, height)
        assert work.tip == expected
        assert work.height == height + 1


def test_consecutive_blocks_hash_different_transactions() -> None:
    work = LedgerWorkload()
    work.prepare("small", 7, NUMPY)
    work.run_batch()
    first = work.last_root
    work.run_batch()
    assert work.last_root != first


def test_deterministic_from_seed() -> None:
    tips = []
    for seed in (11, 11, 12, np.random.SeedSequence(11)):
        work = LedgerWorkload()
        work.prepare("small", seed, NUMPY)
        work.run_batch()
        work.run_batch()
        tips.append(work.tip)
    assert tips[0] == tips[1] == tips[3]
    assert tips[2] != tips[0]


def test_prepare_resets_chain() -> None:
    work = LedgerWorkload()
    work.prepare("small", 1, NUMPY)
    work.run_batch()
    work.prepare("small", 1, NUMPY)
    assert (work.tip, work.height, work.last_root) == (GENESIS_PREV, 0, None)


def test_records_have_the_declared_size_and_header() -> None:
    work = LedgerWorkload(record_bytes=100)
    assert work.bytes_per_unit == 100
    assert LedgerWorkload.bytes_per_unit == 256
    work.prepare("small", 3, NUMPY)
    records = work.block_records(1)
    assert len(records) == 2048
    assert {len(r) for r in records} == {100}
    # Record ids run on across the pool: block 1 starts at id 2048.
    assert int.from_bytes(records[0][:8], "big") == 2048
    assert records[0][40:43] in {b"USD", b"EUR", b"GBP", b"JPY", b"CHF", b"CNY"}


def test_tiny_records_keep_a_prefix_of_the_header() -> None:
    work = LedgerWorkload(record_bytes=1)
    work.prepare("small", 3, NUMPY)
    assert work.run_batch() == 2048
    assert work.last_root == merkle_root(work.block_records(0))


def test_small_prepare_is_fast() -> None:
    work = LedgerWorkload()
    start = time.perf_counter()
    work.prepare("small", 0, NUMPY)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("record_bytes", [0, -256, 2.5, True])
def test_rejects_bad_record_size(record_bytes: object) -> None:
    with pytest.raises(WorkloadError, match="record_bytes"):
        LedgerWorkload(record_bytes=record_bytes)  # type: ignore[arg-type]


def test_rejects_unknown_size() -> None:
    with pytest.raises(WorkloadError, match="huge"):
        LedgerWorkload().prepare("huge", 0, NUMPY)


def test_run_batch_needs_prepare() -> None:
    with pytest.raises(WorkloadError, match="prepare"):
        LedgerWorkload().run_batch()


def test_torch_backend_is_refused_with_the_remedy() -> None:
    with pytest.raises(BackendUnavailable, match="CuPy"):
        LedgerWorkload().prepare("small", 0, Backend("torch", "gpu:0", None))


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(WorkloadError, match="backend"):
        LedgerWorkload().prepare("small", 0, Backend("jax", "gpu:0", None))


# --- the GPU path, checked on the CPU ---------------------------------------------------


def _primes(count: int) -> list[int]:
    found: list[int] = []
    candidate = 2
    while len(found) < count:
        if all(candidate % p for p in found):
            found.append(candidate)
        candidate += 1
    return found


def _frac_bits_of_root(p: int, degree: int) -> int:
    # First 32 bits of the fractional part of p ** (1 / degree), exactly, by integer roots.
    scaled = p << (32 * degree)
    lo, hi = 0, 1 << (32 + 8)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid**degree <= scaled:
            lo = mid
        else:
            hi = mid - 1
    return lo & 0xFFFFFFFF


def test_kernel_constants_match_fips_180_4() -> None:
    assert tuple(_frac_bits_of_root(p, 3) for p in _primes(64)) == sha256_lanes.K
    assert tuple(_frac_bits_of_root(p, 2) for p in _primes(8)) == sha256_lanes.H0
    for value in sha256_lanes.K:
        assert f"0x{value:08x}u" in sha256_lanes.KERNEL_SOURCE


@pytest.mark.parametrize("data_len", [0, 1, 54, 55, 56, 63, 64, 118, 119, 256, 300])
def test_padded_layout_is_fips_180_4(data_len: int) -> None:
    rng = np.random.default_rng(data_len)
    data = rng.integers(0, 256, size=(3, data_len), dtype=np.uint8)
    padded = sha256_lanes._padded_bytes(0x01, data)
    for row, out in zip(data, padded, strict=True):
        message = b"\x01" + row.tobytes()
        zeros = (55 - len(message)) % 64
        expected = message + b"\x80" + bytes(zeros) + (8 * len(message)).to_bytes(8, "big")
        assert out.tobytes() == expected
        assert len(expected) % 64 == 0


@pytest.mark.parametrize("data_len", [0, 31, 55, 56, 64, 119, 256])
def test_numpy_emulation_matches_hashlib(data_len: int) -> None:
    rng = np.random.default_rng(data_len)
    data = rng.integers(0, 256, size=(5, data_len), dtype=np.uint8)
    digests = sha256_lanes.sha256_lanes_numpy(0x00, data)
    for row, digest in zip(data, digests, strict=True):
        assert digest.tobytes() == hashlib.sha256(b"\x00" + row.tobytes()).digest()


def test_lane_path_reproduces_the_one_leaf_ct_vector() -> None:
    # The lane path needs equal-length records; the first CT leaf alone qualifies.
    assert lanes_root([CT_LEAVES[0]]).hex() == CT_ROOTS[0]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 13, 33])
def test_lane_path_roots_equal_cpu_roots(n: int) -> None:
    rng = np.random.default_rng(n)
    leaves = [rng.bytes(256) for _ in range(n)]
    assert lanes_root(leaves) == merkle_root(leaves)


def test_lanes_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="prefix"):
        sha256_lanes.sha256_lanes_numpy(256, np.zeros((1, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        sha256_lanes.sha256_lanes_numpy(0, np.zeros((1, 4), dtype=np.uint16))
    with pytest.raises(ValueError, match="contiguous"):
        sha256_lanes.sha256_lanes_numpy(0, np.zeros((4, 4), dtype=np.uint8)[:, ::2])


# Compiles KERNEL_SOURCE itself as C++ on the CPU, with CUDA's qualifiers and thread
# indices defined away, and runs every "thread" of the grid in a loop. This checks the
# text the GPU will compile, not a transcription of it.
_CUDA_SHIM = """
#define __global__
#define __device__ static
#define __constant__ static const
#define __forceinline__ inline
struct Index { unsigned int x; };
static Index blockIdx, blockDim, threadIdx;
"""
_DRIVER = """
extern "C" void run_grid(const unsigned char* data, unsigned long long n,
                         unsigned int data_len, unsigned long long stride,
                         unsigned int prefix, unsigned char* out,
                         unsigned int grid, unsigned int block)
{
    blockDim.x = block;
    for (unsigned int b = 0; b < grid; ++b) {
        for (unsigned int t = 0; t < block; ++t) {
            blockIdx.x = b;
            threadIdx.x = t;
            rfc6962_sha256(data, n, data_len, stride, prefix, out);
        }
    }
}
"""


@pytest.fixture(scope="module")
def kernel_on_cpu(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ not found: cannot compile the CUDA kernel text on the CPU")
    tmp = tmp_path_factory.mktemp("kernel")
    source = tmp / "kernel.cpp"
    source.write_text(_CUDA_SHIM + sha256_lanes.KERNEL_SOURCE + _DRIVER)
    library = tmp / "kernel.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-Wall", "-Werror", "-Wno-unknown-pragmas",
         "-o", str(library), str(source)],
        check=True,
    )  # fmt: skip
    return ctypes.CDLL(str(library))


def _run_kernel(lib: ctypes.CDLL, prefix: int, data: np.ndarray) -> np.ndarray:
    lanes, data_len = data.shape
    out = np.zeros((lanes, 32), dtype=np.uint8)
    block = sha256_lanes.THREADS_PER_BLOCK
    grid = (lanes + block - 1) // block
    lib.run_grid(
        data.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_ulonglong(lanes),
        ctypes.c_uint(data_len),
        ctypes.c_ulonglong(data_len),
        ctypes.c_uint(prefix),
        out.ctypes.data_as(ctypes.c_void_p),
        ctypes.c_uint(grid),
        ctypes.c_uint(block),
    )
    return out


@pytest.mark.parametrize("data_len", [0, 1, 54, 55, 63, 64, 119, 256, 1000])
def test_kernel_source_hashes_like_hashlib(kernel_on_cpu: ctypes.CDLL, data_len: int) -> None:
    rng = np.random.default_rng(data_len)
    lanes = 300  # more than one thread block, with idle threads in the last one
    data = np.ascontiguousarray(rng.integers(0, 256, size=(lanes, data_len), dtype=np.uint8))
    for prefix in (0x00, 0x01):
        digests = _run_kernel(kernel_on_cpu, prefix, data)
        expected = [hashlib.sha256(bytes([prefix]) + row.tobytes()).digest() for row in data]
        assert [d.tobytes() for d in digests] == expected


def test_kernel_source_gives_cpu_roots(kernel_on_cpu: ctypes.CDLL) -> None:
    work = LedgerWorkload()
    work.prepare("small", 5, NUMPY)
    work.run_batch()
    records = np.frombuffer(b"".join(work.block_records(0)), dtype=np.uint8).reshape(2048, 256)

    def hash_lanes(prefix: int, data: np.ndarray) -> np.ndarray:
        return _run_kernel(kernel_on_cpu, prefix, np.ascontiguousarray(data))

    assert tree_root_lanes(records, hash_lanes, np) == work.last_root


class FakeCompileError(Exception):
    pass


class FakeRawKernel:
    """cupy.RawKernel stand-in that runs KERNEL_SOURCE compiled for the CPU, launch for launch."""

    def __init__(self, lib: ctypes.CDLL, source: str, name: str, fail: bool = False) -> None:
        if fail:
            raise FakeCompileError("nvrtc: error: fake failure")
        assert source == sha256_lanes.KERNEL_SOURCE
        assert name == sha256_lanes.KERNEL_NAME
        self.lib = lib

    def __call__(self, grid: tuple[int], block: tuple[int], args: tuple[Any, ...]) -> None:
        data, n, data_len, stride, prefix, out = args
        # The scalar types CuPy would pass must match the kernel's C signature.
        assert [type(a) for a in (n, data_len, stride, prefix)] == [
            np.uint64,
            np.uint32,
            np.uint64,
            np.uint32,
        ]
        assert isinstance(data, np.ndarray) and data.flags.c_contiguous
        assert isinstance(out, np.ndarray) and out.shape == (int(n), 32)
        self.lib.run_grid(
            data.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_ulonglong(int(n)),
            ctypes.c_uint(int(data_len)),
            ctypes.c_ulonglong(int(stride)),
            ctypes.c_uint(int(prefix)),
            out.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_uint(grid[0]),
            ctypes.c_uint(block[0]),
        )


class FakeCupy:
    """The slice of the cupy module the ledger's GPU path uses, backed by numpy."""

    uint8 = np.uint8

    def __init__(self, lib: ctypes.CDLL, fail_compile: bool = False) -> None:
        self.devices: list[int] = []
        self._lib = lib
        self._fail = fail_compile
        devices = self.devices

        class Device:
            def __init__(self, index: int) -> None:
                devices.append(index)

            def __enter__(self) -> None:
                return None

            def __exit__(self, *exc: object) -> None:
                return None

        self.cuda = type(
            "cuda",
            (),
            {
                "Device": Device,
                "compiler": type("compiler", (), {"CompileException": FakeCompileError}),
            },
        )

    def RawKernel(self, source: str, name: str) -> FakeRawKernel:  # noqa: N802
        return FakeRawKernel(self._lib, source, name, fail=self._fail)

    @staticmethod
    def asarray(a: np.ndarray) -> np.ndarray:
        return np.array(a, copy=True)

    @staticmethod
    def empty(shape: tuple[int, int], dtype: type) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    @staticmethod
    def concatenate(arrays: tuple[np.ndarray, ...]) -> np.ndarray:
        return np.concatenate(arrays)


def test_cupy_path_seals_the_same_chain_as_the_cpu(kernel_on_cpu: ctypes.CDLL) -> None:
    fake = FakeCupy(kernel_on_cpu)
    gpu = LedgerWorkload()
    gpu.prepare("small", 9, Backend("cupy", "gpu:1", fake))
    assert gpu.tx_per_block == 2**14
    assert set(fake.devices) == {1}
    cpu_roots = []
    for height in range(2):
        assert gpu.run_batch() == 2**14
        cpu_roots.append(merkle_root(gpu.block_records(height)))
        assert gpu.last_root == cpu_roots[-1]
    expected = block_hash(block_hash(GENESIS_PREV, cpu_roots[0], 0), cpu_roots[1], 1)
    assert gpu.tip == expected


def test_cupy_path_calibrates_the_block_size(
    kernel_on_cpu: ctypes.CDLL, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small range stands in for the GPU's 2**14..2**21: the rule, not the sizes, is tested.
    monkeypatch.setitem(ledger_module._TX_RANGE_GPU, Size.SMALL, (2**6, 2**9))
    fake = FakeCupy(kernel_on_cpu)
    gpu = LedgerWorkload()
    gpu.prepare("small", 4, Backend("cupy", "gpu:0", fake))
    sizing = gpu.batch_sizing
    assert sizing is not None
    assert sizing.trials[0][0] == 2**6
    assert gpu.tx_per_block == sizing.units
    assert gpu.tx_per_block in (2**6, 2**7, 2**8, 2**9)
    assert gpu.run_batch() == gpu.tx_per_block
    records = gpu.block_records(0)
    assert len(records) == gpu.tx_per_block
    assert gpu.last_root == merkle_root(records)


def test_cupy_compile_failure_is_backend_unavailable(kernel_on_cpu: ctypes.CDLL) -> None:
    fake = FakeCupy(kernel_on_cpu, fail_compile=True)
    with pytest.raises(BackendUnavailable, match="compile"):
        LedgerWorkload().prepare("small", 0, Backend("cupy", "gpu:0", fake))


def test_cupy_needs_a_gpu_device(kernel_on_cpu: ctypes.CDLL) -> None:
    with pytest.raises(WorkloadError, match="device"):
        LedgerWorkload().prepare("small", 0, Backend("cupy", "cpu", FakeCupy(kernel_on_cpu)))


def test_all_lists_the_public_names() -> None:
    import types

    import workloads.ledger as ledger

    public = {
        name
        for name, value in vars(ledger).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", ledger.__name__) == ledger.__name__
    }
    assert public == set(ledger.__all__)
