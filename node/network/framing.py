"""The frames of the direct-stream protocols, without I/O.

Each frame is a varint length followed by a body whose first byte says what it is:

| kind | body after the kind byte | direction |
|---|---|---|
| MESSAGE | channel length (1 byte), channel, payload | sender to receiver |
| CREDIT | varint count: the receiver has room for that many more messages or requests | receiver to sender |
| REQUEST | request id (8 bytes), protocol length (1 byte), protocol, payload | requester to responder |
| RESPONSE | request id (8 bytes), status (1 byte), payload (the response, or the error text) | responder to requester |

A receiver grants credit before anything is sent to it and again as its handlers finish, so a sender never has
more in flight than the receiver can hold: the stream itself never stalls (both py-libp2p muxers reset a stream
whose reader stops for 5 s). A response frees one request credit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dcrm.node.network.transport import MAX_TAG_BYTES, check_tag

__all__ = [
    "FRAME_OVERHEAD",
    "Credit",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "Message",
    "Request",
    "Response",
    "ResponseStatus",
    "credit_frame",
    "decode_body",
    "encode_varint",
    "message_frame",
    "request_frame",
    "response_frame",
]

FRAME_OVERHEAD = 1 + 8 + 1 + MAX_TAG_BYTES
"""The most a body adds to its payload: kind, request id, tag length and tag."""

_KIND_MESSAGE = 1
_KIND_CREDIT = 2
_KIND_REQUEST = 3
_KIND_RESPONSE = 4
_MAX_VARINT_BYTES = 10


class FrameError(ValueError):
    """The peer sent bytes that are not a valid frame; the stream is reset."""


class ResponseStatus(enum.IntEnum):
    OK = 0
    NO_HANDLER = 1
    HANDLER_FAILED = 2
    TOO_LARGE = 3


@dataclass(frozen=True, slots=True)
class Message:
    channel: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Credit:
    count: int


@dataclass(frozen=True, slots=True)
class Request:
    request_id: int
    protocol: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Response:
    request_id: int
    status: ResponseStatus
    payload: bytes


Frame = Message | Credit | Request | Response


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as libp2p length prefixes are."""
    if value < 0:
        raise ValueError("a varint cannot be negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _framed(body: bytes) -> bytes:
    return encode_varint(len(body)) + body


def message_frame(channel: str, payload: bytes) -> bytes:
    tag = check_tag("channel", channel)
    return _framed(bytes([_KIND_MESSAGE, len(tag)]) + tag + payload)


def credit_frame(count: int) -> bytes:
    return _framed(bytes([_KIND_CREDIT]) + encode_varint(count))


def request_frame(request_id: int, protocol: str, payload: bytes) -> bytes:
    tag = check_tag("protocol", protocol)
    return _framed(bytes([_KIND_REQUEST]) + request_id.to_bytes(8, "big") + bytes([len(tag)]) + tag + payload)


def response_frame(request_id: int, status: ResponseStatus, payload: bytes) -> bytes:
    return _framed(bytes([_KIND_RESPONSE]) + request_id.to_bytes(8, "big") + bytes([status]) + payload)


def decode_body(body: bytes) -> Frame:
    """Parse one frame body. Raises FrameError."""
    if not body:
        raise FrameError("empty frame")
    kind = body[0]
    if kind == _KIND_MESSAGE:
        channel, payload = _tagged(body, 1)
        return Message(channel, payload)
    if kind == _KIND_CREDIT:
        count, end = _read_varint(body, 1)
        if end != len(body) or count <= 0:
            raise FrameError("malformed credit frame")
        return Credit(count)
    if kind in (_KIND_REQUEST, _KIND_RESPONSE):
        if len(body) < 10:
            raise FrameError("truncated request or response frame")
        request_id = int.from_bytes(body[1:9], "big")
        if kind == _KIND_REQUEST:
            protocol, payload = _tagged(body, 9)
            return Request(request_id, protocol, payload)
        try:
            status = ResponseStatus(body[9])
        except ValueError:
            raise FrameError(f"unknown response status {body[9]}") from None
        return Response(request_id, status, body[10:])
    raise FrameError(f"unknown frame kind {kind}")


def _tagged(body: bytes, offset: int) -> tuple[str, bytes]:
    if offset >= len(body):
        raise FrameError("truncated frame")
    end = offset + 1 + body[offset]
    if body[offset] == 0 or body[offset] > MAX_TAG_BYTES or end > len(body):
        raise FrameError("bad tag length")
    try:
        tag = body[offset + 1 : end].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("tag is not UTF-8") from None
    return tag, body[end:]


def _read_varint(data: bytes | bytearray, offset: int) -> tuple[int, int]:
    """(value, offset after it); raises IndexError when `data` ends first, FrameError when it is too long."""
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        byte = data[offset + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, offset + index + 1
    raise FrameError("varint longer than 10 bytes")


class FrameDecoder:
    """Cuts a byte stream into frame bodies. Feed it whatever a read returned; it keeps partial frames."""

    def __init__(self, max_body: int) -> None:
        self._max_body = max_body
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The complete bodies now available. Raises FrameError on a body over the limit or a bad prefix."""
        buffer = self._buffer
        buffer += data
        bodies: list[bytes] = []
        offset = 0
        while offset < len(buffer):
            try:
                length, start = _read_varint(buffer, offset)
            except IndexError:
                break  # the length prefix itself is incomplete
            if length > self._max_body:
                raise FrameError(f"frame of {length} bytes exceeds the limit of {self._max_body}")
            end = start + length
            if end > len(buffer):
                break
            bodies.append(bytes(buffer[start:end]))
            offset = end
        del buffer[:offset]
        return bodies

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buffer)
