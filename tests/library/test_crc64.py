"""CRC64-ECMA as COS computes it, and the combination of part CRCs into the whole object's."""

from __future__ import annotations

import crcmod
from hypothesis import given, settings
from hypothesis import strategies as st

from vodflow.crc64 import Crc64, crc64, crc64_combine, crc64_combine_all, parse_cos_crc

COS_SDK_CRC = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


def test_check_value_of_crc64_xz() -> None:
    # The published check value of CRC-64/XZ (ECMA-182 reflected, all-ones init and xorout).
    assert crc64(b"123456789") == 0x995DC9BBDF1939FA


@given(st.binary(max_size=4096))
def test_same_as_the_cos_sdk_function(data: bytes) -> None:
    assert crc64(data) == COS_SDK_CRC(data)


@given(st.lists(st.binary(max_size=512), max_size=8))
def test_streaming_equals_one_shot(chunks: list[bytes]) -> None:
    crc = Crc64()
    for chunk in chunks:
        crc.update(chunk)
    assert crc.value == crc64(b"".join(chunks))
    assert crc.length == sum(map(len, chunks))


@given(st.binary(max_size=2048), st.binary(max_size=2048))
def test_combine_equals_direct_computation(a: bytes, b: bytes) -> None:
    assert crc64_combine(crc64(a), crc64(b), len(b)) == crc64(a + b)


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=700), max_size=12))
def test_whole_object_crc_from_part_crcs(parts: list[bytes]) -> None:
    assert crc64_combine_all((crc64(p), len(p)) for p in parts) == crc64(b"".join(parts))


def test_combine_handles_large_lengths_without_the_bytes() -> None:
    # 5 GiB of zeros after "x": combine with the CRC of the zeros computed by doubling.
    zeros_crc, zeros_len = crc64(b"\0"), 1
    while zeros_len < 1 << 20:
        zeros_crc = crc64_combine(zeros_crc, zeros_crc, zeros_len)
        zeros_len *= 2
    assert zeros_crc == crc64(bytes(1 << 20))
    assert crc64_combine(crc64(b"x"), zeros_crc, zeros_len) == crc64(b"x" + bytes(1 << 20))


def test_cos_header_parsing() -> None:
    assert parse_cos_crc("16749565679157681890") == 16749565679157681890
    assert parse_cos_crc(None) is None
    assert parse_cos_crc("not-a-number") is None
