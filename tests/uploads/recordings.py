"""Evidence to upload: call recordings of any size made up on the fly, and phone photos."""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
from typing import Any

from PIL import Image

MIB = 1024 * 1024
WAV_HEADER_BYTES = 44
# 48 kHz stereo 16-bit, as phones record calls: 500 MB stays well under the 4 h audio limit
SAMPLE_RATE = 48_000
CHANNELS = 2
SAMPLE_BYTES = 2
# each MiB of samples starts at another place in the pattern, so a misplaced or repeated
# MiB changes the file's sha256
BLOCK_SHIFT = 7919


def wav_header(size: int) -> bytes:
    """Return the 44-byte header of a PCM WAV file of ``size`` bytes in all."""
    data = size - WAV_HEADER_BYTES
    block_align = CHANNELS * SAMPLE_BYTES
    return (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH",
            16,
            1,
            CHANNELS,
            SAMPLE_RATE,
            SAMPLE_RATE * block_align,
            block_align,
            SAMPLE_BYTES * 8,
        )
        + b"data"
        + struct.pack("<I", data)
    )


class SyntheticRecording(io.RawIOBase):
    """A seekable WAV call recording of ``size`` bytes, generated as it is read.

    Only one MiB of noise pattern is ever held, so hundreds of MB can be uploaded (by
    tuspy, which seeks, or by ``requests``, which streams) without a file on disk.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        super().__init__()
        if size <= WAV_HEADER_BYTES:
            raise ValueError("a recording needs more bytes than its header")
        self.size = size
        self._header = wav_header(size)
        pattern = random.Random(seed).randbytes(MIB)
        self._doubled = memoryview(pattern + pattern)
        self._position = 0

    def readable(self) -> bool:
        """Say that the recording can be read."""
        return True

    def seekable(self) -> bool:
        """Say that the recording can be read from any offset."""
        return True

    def tell(self) -> int:
        """Return the current offset."""
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to ``offset`` counted from the start, the current offset or the end."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the current offset; return how many bytes were given."""
        view = memoryview(buffer).cast("B")
        given = 0
        while given < len(view) and self._position < self.size:
            piece = self._piece(len(view) - given)
            view[given : given + len(piece)] = piece
            given += len(piece)
            self._position += len(piece)
        return given

    def _piece(self, wanted: int) -> memoryview:
        if self._position < WAV_HEADER_BYTES:
            return memoryview(self._header)[self._position : self._position + wanted]
        sample_offset = self._position - WAV_HEADER_BYTES
        block, within = divmod(sample_offset, MIB)
        start = (within + block * BLOCK_SHIFT) % MIB
        count = min(wanted, MIB - within, self.size - self._position)
        return self._doubled[start : start + count]

    def bytes_at(self, offset: int, count: int) -> bytes:
        """Return ``count`` bytes from ``offset`` without moving the current offset."""
        saved = self._position
        try:
            self._position = offset
            return self.read(count) or b""
        finally:
            self._position = saved

    def sha256(self) -> str:
        """Return the sha256 of the whole recording in hex."""
        digest = hashlib.sha256()
        for offset in range(0, self.size, 8 * MIB):
            digest.update(self.bytes_at(offset, 8 * MIB))
        return digest.hexdigest()


def phone_photo(seed: int = 0) -> bytes:
    """Return a small JPEG photo of a shop counter, different for each seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), (rng.randrange(256), 90, 40))
    for _ in range(12):
        x, y = rng.randrange(300), rng.randrange(220)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        image.paste(colour, (x, y, x + 20, y + 20))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def sha256_hex(data: bytes) -> str:
    """Return the sha256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()
