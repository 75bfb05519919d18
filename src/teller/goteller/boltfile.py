"""A read-only reader of BoltDB files (the Go teller's database), for `teller db import-bolt`.

Place in the flow: goteller/records.py reads the Go teller's buckets through this module and
goteller/importer.py writes what it finds into teller's own store. Nothing here ever writes:
the file is opened O_RDONLY and mapped read-only, so even a bug cannot change the operator's
only copy of their old database.

Why not PyPI `boltdb` (0.0.2, last released 2020): it opens the file O_RDWR|O_CREAT even
when asked for a read-only handle (so a mistyped path creates a fresh empty database, and a
real one is mapped writable), takes POSIX locks that do not exclude a running Go teller
(bolt uses flock), and trusts the meta page without checking its magic, version or
checksum. What an import needs is small: find the current meta page, walk the B+tree of
buckets, and refuse anything that does not look like a bolt file, which is this module.

The format, as boltdb/bolt v1.3.1 writes it (all integers little-endian):

- The file is an array of pages of `page_size` bytes. Every page starts with a 16-byte
  header: id u64, flags u16 (0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist), count u16
  (elements), overflow u32 (a page spanning 1 + overflow consecutive pages).
- Pages 0 and 1 are meta pages. After the header: magic u32 0xED0CDAED, version u32 2,
  page_size u32, flags u32, root bucket (root page id u64, sequence u64), freelist page
  u64, pgid u64 (first page id past the end of the data), txid u64, checksum u64 = FNV-1a
  64 of the 56 meta bytes before it. The valid meta with the higher txid is current.
- A branch page holds `count` elements of 16 bytes: pos u32, ksize u32, child page id u64;
  the key lies `pos` bytes after the element's own start.
- A leaf page holds `count` elements of 16 bytes: flags u32 (0x01 = the value is a nested
  bucket), pos u32, ksize u32, vsize u32; key then value lie `pos` bytes after the element.
- A bucket value is root page id u64 + sequence u64; root 0 means an inline bucket whose
  leaf page (header and all) follows those 16 bytes inside the value itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from teller.errors import GoTellerError

MAGIC = 0xED0CDAED
VERSION = 2
BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
BUCKET_LEAF_FLAG = 0x01

_PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
_META = struct.Struct("<IIIIQQQQQQ")  # magic .. checksum
_BRANCH_ELEMENT = struct.Struct("<IIQ")  # pos, ksize, pgid
_LEAF_ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize
_BUCKET_HEADER = struct.Struct("<QQ")  # root, sequence
_CHECKSUMMED_META_BYTES = 56
_MIN_PAGE_SIZE = 512
_MAX_PAGE_SIZE = 1 << 20
_MAX_DEPTH = 64  # a B+tree of this depth would hold more keys than any disk: a cycle


class BoltError(GoTellerError):
    """The file cannot be read as a bolt database; str() says what is wrong, and where."""


class BoltLocked(BoltError):
    """Another process (a running Go teller) holds the database open for writing."""


def _fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value ^= byte
        value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


@dataclass(frozen=True, slots=True)
class Meta:
    page_size: int
    root_pgid: int
    root_sequence: int
    pgid: int  # high-water mark: pages [0, pgid) hold data
    txid: int


def _read_meta(data: bytes | mmap.mmap, page: int, page_size: int) -> Meta:
    """The meta of page 0 or 1; BoltError saying why if it is not a valid meta page."""
    offset = page * page_size
    if len(data) < offset + _PAGE_HEADER.size + _META.size:
        raise BoltError(f"meta page {page} is cut off (the file has {len(data)} bytes)")
    _pid, flags, _count, _overflow = _PAGE_HEADER.unpack_from(data, offset)
    fields = _META.unpack_from(data, offset + _PAGE_HEADER.size)
    magic, version, size, _flags, root, sequence, _freelist, pgid, txid, checksum = fields
    if magic != MAGIC:
        raise BoltError(f"meta page {page}: no bolt magic number (not a bolt database?)")
    if version != VERSION:
        raise BoltError(f"meta page {page}: bolt format version {version}, expected {VERSION}")
    meta_start = offset + _PAGE_HEADER.size
    if _fnv1a64(bytes(data[meta_start : meta_start + _CHECKSUMMED_META_BYTES])) != checksum:
        raise BoltError(f"meta page {page}: checksum mismatch (the page is corrupted)")
    if not flags & META_PAGE:
        raise BoltError(f"meta page {page}: page flags {flags:#x} are not a meta page's")
    return Meta(page_size=size, root_pgid=root, root_sequence=sequence, pgid=pgid, txid=txid)


class BoltFile:
    """A bolt database opened read-only: `with BoltFile(path) as db: db.root.bucket(b"x")`.

    Opening takes a shared flock, as bolt's own read-only open does: it fails at once
    (BoltLocked) while a Go teller has the file open, since its view may be half-written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise BoltError(f"cannot open {self.path}: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            raise BoltError("not a regular file")
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BoltLocked(
                "the file is open in another program (a running Go teller?): stop it first"
            ) from exc
        size = os.fstat(self._fd).st_size
        if size == 0:
            raise BoltError("the file is empty, not a bolt database")
        self._map = mmap.mmap(self._fd, size, access=mmap.ACCESS_READ)
        self.size = size
        self.meta = self._current_meta()
        if self.meta.pgid * self.meta.page_size > size:
            raise BoltError(
                "the file is truncated: its meta page says the data fills"
                f" {self.meta.pgid * self.meta.page_size} bytes, the file has {size}"
            )
        self.root = Bucket(self, b"", self.meta.root_pgid, self.meta.root_sequence, None)

    def _current_meta(self) -> Meta:
        assert self._map is not None
        # The page size is in the meta itself; page 0's header is at offset 0 whatever it is.
        problems: list[str] = []
        metas: list[Meta] = []
        first: Meta | None = None
        try:
            first = _read_meta(self._map, 0, 0)
            metas.append(first)
        except BoltError as exc:
            problems.append(str(exc))
        page_size = first.page_size if first is not None else _guess_page_size(self._map)
        if not (_MIN_PAGE_SIZE <= page_size <= _MAX_PAGE_SIZE) or page_size & (page_size - 1):
            raise BoltError(f"implausible page size {page_size}")
        try:
            metas.append(_read_meta(self._map, 1, page_size))
        except BoltError as exc:
            problems.append(str(exc))
        metas = [m for m in metas if m.page_size == page_size]
        if not metas:
            raise BoltError("not a usable bolt database: " + "; ".join(problems))
        return max(metas, key=lambda m: m.txid)

    def page(self, pgid: int) -> tuple[memoryview, int, int]:
        """(bytes of the page and its overflow, flags, count) of page `pgid`, checked."""
        assert self._map is not None
        size = self.meta.page_size
        if pgid < 2 or pgid >= self.meta.pgid:
            raise BoltError(f"page {pgid} is out of range (data pages are 2..{self.meta.pgid - 1})")
        offset = pgid * size
        pid, flags, count, overflow = _PAGE_HEADER.unpack_from(self._map, offset)
        if pid != pgid:
            raise BoltError(f"page {pgid} has the id {pid} in its header (corrupted)")
        end = offset + (overflow + 1) * size
        if pgid + overflow >= self.meta.pgid or end > self.size:
            raise BoltError(f"page {pgid} overflows past the end of the data")
        return memoryview(self._map)[offset:end], flags, count

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a caller still holds a view: GC closes it
                self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)  # also drops the flock
            self._fd = None

    def __enter__(self) -> BoltFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _guess_page_size(data: bytes | mmap.mmap) -> int:
    """Page 0's meta is unreadable: find page 1 at the usual page sizes."""
    for size in (4096, 8192, 16384, 65536, 2048, 1024, 512):
        with contextlib.suppress(BoltError):
            return _read_meta(data, 1, size).page_size
    return 4096


class Bucket:
    """One bucket: its keys in order, each with a value (bytes) or a nested Bucket."""

    def __init__(
        self,
        db: BoltFile,
        name: bytes,
        root_pgid: int,
        sequence: int,
        inline_page: memoryview | None,
    ) -> None:
        self._db = db
        self.name = name
        self.root_pgid = root_pgid
        self.sequence = sequence  # bolt's NextSequence counter (the Go teller's deposit seq)
        self._inline = inline_page

    def items(self) -> Iterator[tuple[bytes, bytes | Bucket]]:
        """(key, value or nested bucket) for every key, in key order."""
        if self._inline is not None:
            yield from self._leaf_items(self._inline, "inline page", check_flags=True)
            return
        yield from self._walk(self.root_pgid, 0, None, set())

    def get(self, key: bytes) -> bytes | Bucket | None:
        for found, value in self.items():
            if found == key:
                return value
            if found > key:
                return None
        return None

    def bucket(self, name: bytes) -> Bucket | None:
        """The nested bucket `name`; None if absent; BoltError if it is a plain value."""
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, Bucket):
            raise BoltError(f"{name.decode(errors='replace')!r} is a value, not a bucket")
        return value

    def _where(self) -> str:
        return f"bucket {self.name.decode(errors='replace')!r}" if self.name else "root bucket"

    def _walk(
        self, pgid: int, depth: int, previous: bytes | None, seen: set[int]
    ) -> Iterator[tuple[bytes, bytes | Bucket]]:
        # Every page of a bucket's tree has one parent: a page reached twice is a cycle, or
        # branches sharing a subtree, which (with empty leaves to defeat the key order
        # check) would be walked 2^depth times.
        if depth > _MAX_DEPTH or pgid in seen:
            raise BoltError(f"{self._where()}: the page tree loops at page {pgid} (corrupted)")
        seen.add(pgid)
        try:
            data, flags, count = self._db.page(pgid)
        except BoltError as exc:
            raise BoltError(f"{self._where()}: {exc}") from None
        if flags & BRANCH_PAGE:
            for key, child in self._branch_elements(data, count, pgid):
                if previous is not None and key < previous:
                    raise BoltError(f"{self._where()}: page {pgid} keys out of order (corrupted)")
                for item in self._walk(child, depth + 1, previous, seen):
                    previous = item[0]
                    yield item
        elif flags & LEAF_PAGE:
            for item in self._leaf_items(data, f"page {pgid}", check_flags=False, count=count):
                if previous is not None and item[0] <= previous:
                    raise BoltError(f"{self._where()}: page {pgid} keys out of order (corrupted)")
                previous = item[0]
                yield item
        else:
            raise BoltError(
                f"{self._where()}: page {pgid} has flags {flags:#x}, neither branch nor leaf"
            )

    def _branch_elements(
        self, data: memoryview, count: int, pgid: int
    ) -> Iterator[tuple[bytes, int]]:
        base = _PAGE_HEADER.size
        if base + count * _BRANCH_ELEMENT.size > len(data):
            raise BoltError(f"{self._where()}: page {pgid} has more elements than fit (corrupted)")
        for i in range(count):
            element = base + i * _BRANCH_ELEMENT.size
            pos, ksize, child = _BRANCH_ELEMENT.unpack_from(data, element)
            start = element + pos
            if start + ksize > len(data):
                raise BoltError(f"{self._where()}: page {pgid} key {i} lies outside the page")
            yield bytes(data[start : start + ksize]), child

    def _leaf_items(
        self, data: memoryview, where: str, *, check_flags: bool, count: int | None = None
    ) -> Iterator[tuple[bytes, bytes | Bucket]]:
        if len(data) < _PAGE_HEADER.size:
            raise BoltError(f"{self._where()}: {where} is cut off (corrupted)")
        _pid, flags, header_count, _overflow = _PAGE_HEADER.unpack_from(data, 0)
        if check_flags and not flags & LEAF_PAGE:
            raise BoltError(f"{self._where()}: {where} is not a leaf page (corrupted)")
        count = header_count if count is None else count
        base = _PAGE_HEADER.size
        if base + count * _LEAF_ELEMENT.size > len(data):
            raise BoltError(f"{self._where()}: {where} has more elements than fit (corrupted)")
        previous: bytes | None = None
        for i in range(count):
            element = base + i * _LEAF_ELEMENT.size
            element_flags, pos, ksize, vsize = _LEAF_ELEMENT.unpack_from(data, element)
            start = element + pos
            if start + ksize + vsize > len(data):
                raise BoltError(f"{self._where()}: {where} element {i} lies outside the page")
            key = bytes(data[start : start + ksize])
            if previous is not None and key <= previous:
                raise BoltError(f"{self._where()}: {where} keys out of order (corrupted)")
            previous = key
            value = data[start + ksize : start + ksize + vsize]
            if element_flags & BUCKET_LEAF_FLAG:
                yield key, self._nested(key, value, where)
            else:
                yield key, bytes(value)

    def _nested(self, key: bytes, value: memoryview, where: str) -> Bucket:
        if len(value) < _BUCKET_HEADER.size:
            raise BoltError(f"{self._where()}: {where}: bucket {key!r} header is cut off")
        root, sequence = _BUCKET_HEADER.unpack_from(value, 0)
        inline = value[_BUCKET_HEADER.size :] if root == 0 else None
        return Bucket(self._db, key, root, sequence, inline)
