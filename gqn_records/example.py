"""The protobuf messages of a `tf.train.Example`, decoded and encoded in the protobuf wire format.

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }      (each entry: string key = 1; Feature value = 2)
    Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }   FloatList { repeated float value = 1 [packed]; }

These few messages are all a GQN record holds, so they are read here directly instead of through a generated
protobuf class. Decoding accepts what any protobuf writer may produce: fields in any order, unknown fields
(skipped), float lists packed or not. Malformed bytes raise ValueError.
"""

import numpy as np

KINDS = {1: "bytes", 2: "float", 3: "int64"}   # Feature's oneof field number -> the kind of its list
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


def _varint(buf: memoryview, pos: int) -> tuple:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("a varint runs past the end of its message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("a varint is longer than 10 bytes")


def fields(buf) -> list:
    """Return the fields of one protobuf message as [(field number, wire type, value)], in order.

    value: an int (varint), or a memoryview of the bytes (length-delimited, fixed32, fixed64).
    """
    buf = memoryview(buf)
    out, pos, end = [], 0, len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        else:
            if wire == _LEN:
                size, pos = _varint(buf, pos)
            elif wire in (_FIXED32, _FIXED64):
                size = 4 if wire == _FIXED32 else 8
            else:
                raise ValueError(f"field {number} has wire type {wire}, which protobuf does not use")
            if pos + size > end:
                raise ValueError(f"field {number} runs past the end of its message")
            value, pos = buf[pos:pos + size], pos + size
        out.append((number, wire, value))
    return out


def decode_example(data) -> dict:
    """Return the features of a serialized Example: {name: (kind, payload)}, kind "bytes", "float" or "int64",
    payload the undecoded list message (read it with bytes_values / float_values). Raises ValueError."""
    features = {}
    for number, wire, example_field in fields(data):
        if number != 1 or wire != _LEN:
            continue
        for entry_number, entry_wire, entry in fields(example_field):
            if entry_number != 1 or entry_wire != _LEN:
                continue
            key, value = None, b""
            for n, w, part in fields(entry):
                if n == 1 and w == _LEN:
                    key = bytes(part).decode("utf-8", errors="replace")
                elif n == 2 and w == _LEN:
                    value = part
            kinds = [(KINDS[n], payload) for n, w, payload in fields(value) if n in KINDS and w == _LEN]
            if key is not None:
                features[key] = kinds[-1] if kinds else ("bytes", memoryview(b""))
    return features


def bytes_values(payload) -> list:
    """Return the values of a BytesList payload as a list of bytes objects."""
    return [bytes(v) for n, w, v in fields(payload) if n == 1 and w == _LEN]


def float_values(payload) -> np.ndarray:
    """Return the values of a FloatList payload as float32 [n] (packed and unpacked encodings both read).
    Raises ValueError when a packed list is not a whole number of floats."""
    parts = [np.frombuffer(v, "<f4") for n, w, v in fields(payload) if n == 1 and w in (_LEN, _FIXED32)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint_bytes(number << 3 | _LEN) + _varint_bytes(len(payload)) + payload


def encode_example(features: dict) -> bytes:
    """Return a serialized Example of `features`: {name: list of bytes (a BytesList) or a float array (a packed
    FloatList)}, entries in the order given."""
    entries = []
    for name, value in features.items():
        if isinstance(value, np.ndarray):
            feature = _len_field(2, _len_field(1, np.ascontiguousarray(value, "<f4").tobytes()))
        else:
            feature = _len_field(1, b"".join(_len_field(1, bytes(v)) for v in value))
        entries.append(_len_field(1, _len_field(1, name.encode()) + _len_field(2, feature)))
    return _len_field(1, b"".join(entries))
