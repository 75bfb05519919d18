"""Writing small BoltDB files for tests, byte by byte from the format's facts (the reader:
goteller/boltfile.py).

Every bucket is inline (its page inside the root page, which grows overflow pages as
needed): enough to hold a made-up Go teller database of a few records.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

PAGE = 4096
MAGIC = 0xED0CDAED


def fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def page_header(pgid: int, flags: int, count: int, overflow: int = 0) -> bytes:
    return struct.pack("<QHHI", pgid, flags, count, overflow)


def meta_page(pgid: int, root: int, high_water: int, txid: int) -> bytes:
    body = struct.pack("<IIIIQQQQQ", MAGIC, 2, PAGE, 0, root, 0, 2, high_water, txid)
    body += struct.pack("<Q", fnv1a64(body))
    return (page_header(pgid, 0x04, 0) + body).ljust(PAGE, b"\0")


def leaf(pgid: int, items: list[tuple[bytes, bytes, bool]], overflow: int = 0) -> bytes:
    """A leaf page (pgid 0 = an inline bucket's page); items are (key, value, is_bucket)."""
    elements = b""
    data = b""
    for i, (key, value, is_bucket) in enumerate(items):
        pos = 16 + 16 * len(items) + len(data) - (16 + 16 * i)
        elements += struct.pack("<IIII", 1 if is_bucket else 0, pos, len(key), len(value))
        data += key + value
    return page_header(pgid, 0x02, len(items), overflow) + elements + data


def write_bolt(path: Path, buckets: dict[str, dict[str, bytes]]) -> None:
    """A bolt file whose root holds `buckets` (name → key → value), all inline."""
    items = []
    for name in sorted(buckets):
        entries = sorted(buckets[name].items())
        inline = leaf(0, [(k.encode(), v, False) for k, v in entries])
        items.append((name.encode(), struct.pack("<QQ", 0, len(entries)) + inline, True))
    root = leaf(2, items)
    overflow = (len(root) + PAGE - 1) // PAGE - 1
    root = leaf(2, items, overflow).ljust((overflow + 1) * PAGE, b"\0")
    high_water = 3 + overflow
    path.write_bytes(meta_page(0, 2, high_water, 2) + meta_page(1, 2, high_water, 1) + root)


def go_json(value: Any) -> bytes:
    """Compact JSON, as Go's encoding/json writes it."""
    return json.dumps(value, separators=(",", ":")).encode()
