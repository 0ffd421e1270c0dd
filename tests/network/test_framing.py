"""The direct-stream frames: round trips, partial reads, and what a misbehaving peer can send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcrm.node.network.framing import (
    Credit,
    FrameDecoder,
    FrameError,
    Message,
    Request,
    Response,
    ResponseStatus,
    credit_frame,
    decode_body,
    encode_varint,
    message_frame,
    request_frame,
    response_frame,
)


def _decode_all(stream: bytes, chunk: int, max_body: int = 1 << 20) -> list[object]:
    decoder = FrameDecoder(max_body)
    frames: list[object] = []
    for start in range(0, len(stream), chunk):
        frames.extend(decode_body(body) for body in decoder.feed(stream[start : start + chunk]))
    assert decoder.pending == 0
    return frames


@given(
    channel=st.text(min_size=1, max_size=16),
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_frames_survive_any_split_of_the_byte_stream(channel: str, payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(message_frame(channel, payload) for payload in payloads) + credit_frame(300)
    assert _decode_all(stream, chunk) == [*(Message(channel, payload) for payload in payloads), Credit(300)]


def test_requests_and_responses_round_trip() -> None:
    stream = request_frame(7, "blocks", b"from 10") + response_frame(7, ResponseStatus.HANDLER_FAILED, b"why")
    assert _decode_all(stream, 5) == [
        Request(7, "blocks", b"from 10"),
        Response(7, ResponseStatus.HANDLER_FAILED, b"why"),
    ]


def test_varints_are_leb128() -> None:
    assert encode_varint(0) == b"\x00"
    assert encode_varint(127) == b"\x7f"
    assert encode_varint(300) == b"\xac\x02"
    with pytest.raises(ValueError, match="negative"):
        encode_varint(-1)


def test_a_frame_over_the_limit_is_refused_before_it_is_buffered() -> None:
    decoder = FrameDecoder(max_body=100)
    with pytest.raises(FrameError, match="exceeds"):
        decoder.feed(encode_varint(101))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x09",  # unknown kind
        b"\x01\x00payload",  # empty channel
        b"\x01\x50ab",  # channel longer than the body
        b"\x01\x02\xff\xfe",  # channel not UTF-8
        b"\x02\x00",  # zero credit
        b"\x02\x05\x00",  # trailing bytes after the credit
        b"\x03\x00\x00",  # truncated request
        b"\x04" + bytes(8) + b"\x63",  # unknown response status
    ],
)
def test_malformed_bodies_raise_frame_error(body: bytes) -> None:
    with pytest.raises(FrameError):
        decode_body(body)


def test_an_endless_varint_is_refused() -> None:
    with pytest.raises(FrameError, match="varint"):
        FrameDecoder(100).feed(b"\xff" * 11)


def test_tags_must_be_short_and_non_empty() -> None:
    with pytest.raises(ValueError, match="channel"):
        message_frame("", b"")
    with pytest.raises(ValueError, match="protocol"):
        request_frame(1, "p" * 65, b"")
