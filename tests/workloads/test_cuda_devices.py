"""NVML UUID -> CUDA ordinal, with CUDA_VISIBLE_DEVICES applied, on fake enumerations."""

from __future__ import annotations

import uuid as uuidlib

import pytest

from workloads.cuda_devices import UuidNotVisible, cuda_ordinal, uuid_key, visible_uuids

# Four GPUs in PCI order (NVML index 0..3), as NVML names them.
U = [
    "GPU-0a1b2c3d-0000-4000-8000-000000000000",
    "GPU-1a1b2c3d-0000-4000-8000-000000000001",
    "GPU-2a1b2c3d-0000-4000-8000-000000000002",
    "GPU-2a9f0000-0000-4000-8000-000000000003",
]
MIG = "MIG-7c5e1d2a-0000-5000-9000-00000000abcd"


class TorchUuid:
    """PyTorch's `_CUuuid`: raw bytes, and hyphenated hex without a prefix as text."""

    def __init__(self, text: str) -> None:
        self._uuid = uuidlib.UUID(uuid_key(text))
        self.bytes = list(self._uuid.bytes)

    def __str__(self) -> str:
        return str(self._uuid)


@pytest.mark.parametrize(
    "form",
    [
        U[2],
        U[2].lower(),
        U[2].removeprefix("GPU-"),
        uuidlib.UUID(U[2][4:]).bytes,  # CuPy: getDeviceProperties(i)["uuid"]
        TorchUuid(U[2]),  # PyTorch: get_device_properties(i).uuid
    ],
)
def test_uuid_key_reads_every_form(form: object) -> None:
    assert uuid_key(form) == "2a1b2c3d000040008000000000000002"


def test_uuid_key_of_a_torch_uuid_without_bytes_uses_its_text() -> None:
    class TextOnly:
        def __str__(self) -> str:
            return "2a1b2c3d-0000-4000-8000-000000000002"

    assert uuid_key(TextOnly()) == uuid_key(U[2])


def test_ordinal_is_found_by_uuid_not_by_index() -> None:
    # CUDA enumerates fastest first: here NVML's gpu:2 is CUDA ordinal 0.
    cuda = [uuidlib.UUID(U[i][4:]).bytes for i in (2, 0, 3, 1)]
    assert cuda_ordinal(U[2], cuda) == 0
    assert cuda_ordinal(U[1], cuda) == 3


def test_an_invisible_gpu_says_what_cuda_sees() -> None:
    with pytest.raises(UuidNotVisible, match=r"not visible.*CUDA_VISIBLE_DEVICES"):
        cuda_ordinal(U[3], [U[0], U[1]])
    with pytest.raises(UuidNotVisible, match="no GPU"):
        cuda_ordinal(U[0], [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, [0, 1, 2, 3]),  # unset: every GPU
        ("", []),  # set but empty: none
        ("2,1", [2, 1]),  # listed order is CUDA's order
        ("0,2,-1,1", [0, 2]),  # an invalid entry ends the list
        ("1,1,2", [1]),  # so does a repeated one
        ("3,7,0", [3]),  # and an index out of range
        (" 1 , 0 ", [1, 0]),
        ("GPU-1a1b", [1]),  # a unique UUID prefix is enough
        ("GPU-2a,0", []),  # an ambiguous prefix names nothing
        (f"{U[3]},GPU-0A1B", [3, 0]),  # full UUID, case-insensitive prefix
        ("NoDevFiles", []),
        ("GPU-", []),
        ("GPU-xyz", []),
    ],
)
def test_visible_uuids_follow_cuda_rules(value: str | None, expected: list[int]) -> None:
    assert visible_uuids(value, U) == [U[i] for i in expected]


def test_mig_devices_are_named_by_their_own_uuid() -> None:
    enumeration = [MIG, "MIG-8d000000-0000-5000-9000-00000000ffff"]
    assert visible_uuids("MIG-7c5e", enumeration) == [MIG]
    assert visible_uuids("GPU-7c5e", enumeration) == []  # a GPU- prefix never names a MIG
    assert cuda_ordinal(MIG, visible_uuids(None, enumeration)) == 0


def test_visible_then_ordinal_maps_nvml_to_cuda() -> None:
    # CUDA_VISIBLE_DEVICES=3,1 under PCI_BUS_ID order: NVML gpu:3 is CUDA 0, gpu:1 is CUDA 1.
    cuda = visible_uuids("3,1", U)
    assert [cuda_ordinal(U[i], cuda) for i in (3, 1)] == [0, 1]
    with pytest.raises(UuidNotVisible):
        cuda_ordinal(U[0], cuda)
