"""Reading a source file the way Python would, without losing a byte.

We decode with the BOM or PEP 263 cookie, keep the original newlines, and
remember what we need to write the file back byte for byte (`--fix`).
"""
from __future__ import annotations

import codecs
import io
import re
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path

LINE_END_RE = re.compile(r"\r\n|\r|\n")  # how Python's tokenizer ends lines (str.splitlines knows more)
MAX_BYTES = 2 * 1024 * 1024  # larger files are generated or data; libcst needs up to 1.6 GB and 30 s per MB


class InputError(Exception):
    """An input we cannot check: `str()` is the one-line message (path:line: what)."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str
    encoding: str  # the codec to write back with ("utf-8-sig" keeps a BOM)
    raw: bytes

    @property
    def newline(self) -> str:
        """The file's first line ending, used for lines that fixes add."""
        for ending in ("\r\n", "\n", "\r"):
            if ending in self.text:
                return ending
        return "\n"


def decode(path: str, raw: bytes) -> SourceFile:
    """Decode bytes like the Python tokenizer: BOM, then coding cookie, else UTF-8."""
    if len(raw) > MAX_BYTES:
        raise InputError(path, 1, f"file is larger than {MAX_BYTES // (1024 * 1024)} MB; skipped")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InputError(path, line, "file contains NUL bytes (binary?); skipped")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:
        if not exc.msg.startswith("invalid or missing encoding declaration"):
            raise InputError(path, getattr(exc, "lineno", None) or 1, f"bad encoding declaration: {exc.msg}") from None
        encoding = "utf-8"  # not UTF-8 and no cookie: decoding below names the line of the bad byte
    try:
        codecs.lookup(encoding)
        text = raw.decode(encoding)
    except LookupError:
        raise InputError(path, 1, f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, line, f"cannot decode as {encoding}: {exc.reason}") from None
    return SourceFile(path=path, text=text, encoding=encoding, raw=raw)


def read(path: Path, display: str | None = None) -> SourceFile:
    """Read a regular file, never more than MAX_BYTES + 1 bytes of it: a FIFO or device
    named `*.py` would block or never end, and a huge file would fill the memory."""
    name = display or str(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise InputError(name, 1, "is a directory")
        if not stat.S_ISREG(mode):
            raise InputError(name, 1, "not a regular file; skipped")
        with open(path, "rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(name, 1, f"cannot read: {exc.strerror or exc}") from None
    return decode(name, raw)


def encode(source: SourceFile, text: str) -> bytes:
    """Encode fixed text back with the file's own codec (BOM kept by utf-8-sig)."""
    return text.encode(source.encoding)
