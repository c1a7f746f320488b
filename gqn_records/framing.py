"""The TFRecord framing, read and written with every checksum checked.

A TFRecord file is a sequence of records, each

    uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes | data | uint32 masked CRC32C of data

where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32), as TensorFlow writes them. A file
is indexed once (record offsets and lengths, every length checksum and the file size checked, without reading
the data); records are then read at their offsets and their data checksums checked.
"""

import os
import struct

import crc32c
import numpy as np

from scene_shards.common import UserError

HEADER_BYTES = 12           # length (8) + its masked CRC (4)
FOOTER_BYTES = 4            # masked CRC of the data
CRC_MASK = 0xA282EAD8
MAX_RECORD_BYTES = 1 << 30  # a longer length field is damage, not a record (a mazes scene is about 2 MB)


def masked_crc(data) -> int:
    """Return TFRecord's masked CRC32C of `data` (an int below 2**32)."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + CRC_MASK) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """Return `data` framed as one TFRecord record (header, data, footer)."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def index_records(path) -> tuple:
    """Return (offsets, lengths), int64 arrays [R]: where each record's data starts in file `path`, and its size.

    Reads only the 12-byte headers. Raises UserError naming the file and the record when a header is cut
    short, a length checksum fails, or a record runs past the end of the file (a truncated download).
    """
    offsets, lengths = [], []
    fd = open_for_reading(path)
    try:
        size = os.fstat(fd).st_size
        position = 0
        while position < size:
            record = len(offsets)
            header = os.pread(fd, HEADER_BYTES, position)
            if len(header) < HEADER_BYTES:
                raise UserError(f"{path}: record {record} is truncated (the file ends inside its header)")
            length, crc = struct.unpack("<QI", header)
            if masked_crc(header[:8]) != crc or length > MAX_RECORD_BYTES:
                raise UserError(f"{path}: record {record} is damaged (its length checksum fails)")
            if position + HEADER_BYTES + length + FOOTER_BYTES > size:
                raise UserError(f"{path}: record {record} is truncated (the file ends inside its data)")
            offsets.append(position + HEADER_BYTES)
            lengths.append(length)
            position += HEADER_BYTES + length + FOOTER_BYTES
    finally:
        os.close(fd)
    return np.array(offsets, np.int64), np.array(lengths, np.int64)


def read_record(fd: int, offset: int, length: int, where: str) -> bytes:
    """Return the data of the record at `offset` (from index_records) in the open file `fd`, its checksum checked.

    `where` names the record in errors ("FILE: record R"); raises UserError if the data checksum fails or the
    file has become shorter.
    """
    chunk = os.pread(fd, length + FOOTER_BYTES, offset)
    if len(chunk) < length + FOOTER_BYTES:
        raise UserError(f"{where} is truncated (the file got shorter while it was read)")
    data = chunk[:length]
    if masked_crc(data) != struct.unpack("<I", chunk[length:])[0]:
        raise UserError(f"{where} is damaged (its data checksum fails)")
    return data


def open_for_reading(path) -> int:
    """Return a read-only file descriptor of `path`; raises UserError (one line) if it cannot be opened."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
