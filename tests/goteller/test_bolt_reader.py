"""goteller/boltfile.py: the read-only BoltDB reader, on the Go teller's file and on made-up files.

The made-up files are built here byte by byte from the format's facts (the module docstring
of goteller/boltfile.py), to reach what the Go teller's small database does not: overflow pages,
nested and inline buckets, and every kind of damage.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

import pytest

from teller.goteller.boltfile import BoltError, BoltFile, BoltLocked, Bucket

from .boltfile import PAGE, leaf, meta_page, page_header
from .conftest import fingerprint


def bucket_value(root: int, sequence: int, inline: bytes = b"") -> bytes:
    return struct.pack("<QQ", root, sequence) + inline


def build_file(path: Path) -> None:
    """Root → bucket "big" (page 3, holding a 10,000-byte value: two overflow pages) and
    bucket "outer" (page 6) holding the inline bucket "inner" and a plain key."""
    big_value = bytes(range(256)) * 39 + b"end!"  # 9,988 bytes
    big = leaf(3, [(b"k", big_value, False)])
    big_overflow = (len(big) + PAGE - 1) // PAGE - 1
    big = (page_header(3, 0x02, 1, big_overflow) + big[16:]).ljust((big_overflow + 1) * PAGE, b"\0")
    inner = leaf(0, [(b"a", b"1", False), (b"b", b"2", False)])
    outer = leaf(6, [(b"inner", bucket_value(0, 7, inner), True), (b"plain", b"x", False)])
    root = leaf(2, [(b"big", bucket_value(3, 5), True), (b"outer", bucket_value(6, 0), True)])
    pages = [
        meta_page(0, 2, 7, 10),
        meta_page(1, 2, 7, 9),
        root.ljust(PAGE, b"\0"),
        big,
        outer.ljust(PAGE, b"\0"),
    ]
    path.write_bytes(b"".join(pages))
    assert big_overflow == 2 and path.stat().st_size == 7 * PAGE


def tree(bucket: Bucket) -> dict[bytes, object]:
    return {k: tree(v) if isinstance(v, Bucket) else v for k, v in bucket.items()}


def test_reads_the_go_tellers_buckets_including_a_branch_page(go_db: Path) -> None:
    before = fingerprint(go_db)
    with BoltFile(go_db) as bolt:
        names = [k for k, _ in bolt.root.items()]
        deposit_info = bolt.root.bucket(b"deposit_info")
        assert deposit_info is not None
        deposits = list(deposit_info.items())
        bound = bolt.root.bucket(b"bind_address_btc")
        assert bound is not None
        used = bolt.root.bucket(b"used_btc_address")
        assert used is not None and used.root_pgid == 0  # an inline bucket
        used_keys = [k for k, _ in used.items()]
    assert names == sorted(names)
    assert {
        b"bind_address_btc",
        b"deposit_info",
        b"sky_deposit_seqs_index",
        b"btc_txs",
        b"used_btc_address",
        b"deposit_value",
        b"exchange_meta",
    } <= set(names)
    assert len(deposits) == 6 and deposit_info.sequence == 6  # NextSequence handed out 1..6
    assert all(b'"deposit_id"' in v for _, v in deposits if isinstance(v, bytes))
    assert len(used_keys) == 7
    assert fingerprint(go_db) == before


def test_overflow_pages_nested_and_inline_buckets(tmp_path: Path) -> None:
    path = tmp_path / "made.db"
    build_file(path)
    with BoltFile(path) as bolt:
        assert bolt.meta.txid == 10  # the meta with the higher txid is the current one
        found = tree(bolt.root)
        big = bolt.root.bucket(b"big")
        assert big is not None and big.sequence == 5
    assert found[b"big"] == {b"k": bytes(range(256)) * 39 + b"end!"}
    assert found[b"outer"] == {b"inner": {b"a": b"1", b"b": b"2"}, b"plain": b"x"}


def damaged(tmp_path: Path, change: str) -> Path:
    path = tmp_path / f"{change}.db"
    build_file(path)
    data = bytearray(path.read_bytes())
    if change == "truncated":
        del data[5 * PAGE :]
    elif change == "both-metas":
        data[16:20] = b"\0\0\0\0"
        data[PAGE + 16 : PAGE + 20] = b"\0\0\0\0"
    elif change == "page-flags":
        data[6 * PAGE + 8 : 6 * PAGE + 10] = struct.pack("<H", 0x10)  # a freelist page?
    elif change == "page-id":
        data[6 * PAGE : 6 * PAGE + 8] = struct.pack("<Q", 9)
    elif change == "element-outside":
        data[2 * PAGE + 16 + 4 : 2 * PAGE + 16 + 8] = struct.pack("<I", 50_000)
    elif change == "child-out-of-range":
        # Root's first bucket value (root pgid) points past the high-water mark.
        offset = data.index(struct.pack("<QQ", 3, 5), 2 * PAGE)
        data[offset : offset + 8] = struct.pack("<Q", 99)
    elif change == "keys-out-of-order":
        offset = data.index(b"inner", 6 * PAGE)
        data[offset : offset + 5] = b"zzzzz"
    elif change == "not-bolt":
        data = bytearray(b"SQLite format 3\0" + bytes(PAGE * 2))
    elif change == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("truncated", "the file is truncated: its meta page says the data fills 28672 bytes"),
        ("both-metas", "no bolt magic number"),
        ("page-flags", "page 6 has flags 0x10, neither branch nor leaf"),
        ("page-id", "page 6 has the id 9 in its header"),
        ("element-outside", "lies outside the page"),
        ("child-out-of-range", "page 99 is out of range"),
        ("keys-out-of-order", "keys out of order"),
        ("not-bolt", "no bolt magic number"),
        ("empty", "the file is empty"),
    ],
)
def test_damage_is_a_clear_error(tmp_path: Path, change: str, message: str) -> None:
    path = damaged(tmp_path, change)
    with pytest.raises(BoltError) as caught, BoltFile(path) as bolt:
        tree(bolt.root)
    assert message in str(caught.value)


def test_one_bad_meta_page_falls_back_to_the_other(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    build_file(path)
    data = bytearray(path.read_bytes())
    data[16 + 40] ^= 0xFF  # page 0's txid: its checksum no longer matches
    path.write_bytes(bytes(data))
    with BoltFile(path) as bolt:
        assert bolt.meta.txid == 9
        assert tree(bolt.root)[b"outer"] == {b"inner": {b"a": b"1", b"b": b"2"}, b"plain": b"x"}


def test_opens_read_only_files_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    build_file(path)
    path.chmod(0o444)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = fingerprint(path)
    with BoltFile(path) as bolt:
        tree(bolt.root)
    assert fingerprint(path) == before
    assert path.stat().st_mode & 0o777 == 0o444


def test_a_missing_path_is_reported_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(BoltError, match="cannot open"):
        BoltFile(path)
    assert not path.exists()
    with pytest.raises(BoltError, match="not a regular file"):
        BoltFile(tmp_path)


def test_a_database_held_open_by_the_go_teller_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    build_file(path)
    with path.open("rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what bolt.Open does for writing
        with pytest.raises(BoltLocked, match="open in another program"):
            BoltFile(path)
    with BoltFile(path) as bolt:  # free again once the Go teller has stopped
        assert bolt.meta.txid == 10


def branch(pgid: int, children: list[tuple[bytes, int]]) -> bytes:
    """A branch page whose elements point at `children` (key, child page id)."""
    elements = b""
    keys = b""
    for i, (key, child) in enumerate(children):
        pos = 16 * len(children) + len(keys) - 16 * i
        elements += struct.pack("<IIQ", pos, len(key), child)
        keys += key
    return (page_header(pgid, 0x01, len(children)) + elements + keys).ljust(PAGE, b"\0")


def test_branch_pages_shared_by_a_corrupted_tree_are_walked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cycle and shallow enough for the depth limit, but every branch page's two children
    are the same page: walking that as a tree visits the last page 2^40 times (a hang)."""
    depth = 40
    first, empty_leaf = 3, 3 + depth
    pages = [
        meta_page(0, 2, empty_leaf + 1, 10),
        meta_page(1, 2, empty_leaf + 1, 9),
        leaf(2, [(b"b", bucket_value(first, 0), True)]).ljust(PAGE, b"\0"),
    ]
    pages += [branch(p, [(b"a", p + 1), (b"b", p + 1)]) for p in range(first, empty_leaf)]
    pages.append(leaf(empty_leaf, []).ljust(PAGE, b"\0"))
    path = tmp_path / "dag.db"
    path.write_bytes(b"".join(pages))

    calls = 0
    real_page = BoltFile.page

    def counted(self: BoltFile, pgid: int) -> tuple[memoryview, int, int]:
        nonlocal calls
        calls += 1
        if calls > 10_000:
            raise RuntimeError("the reader walks the same pages again and again")
        return real_page(self, pgid)

    monkeypatch.setattr(BoltFile, "page", counted)
    with pytest.raises(BoltError, match="the page tree loops"), BoltFile(path) as bolt:
        tree(bolt.root)
    assert calls <= depth + 2


def test_a_branch_page_pointing_at_itself_is_a_clear_error(tmp_path: Path) -> None:
    pages = [
        meta_page(0, 2, 4, 10),
        meta_page(1, 2, 4, 9),
        leaf(2, [(b"b", bucket_value(3, 0), True)]).ljust(PAGE, b"\0"),
        branch(3, [(b"a", 3)]),
    ]
    path = tmp_path / "cycle.db"
    path.write_bytes(b"".join(pages))
    with pytest.raises(BoltError, match="the page tree loops"), BoltFile(path) as bolt:
        tree(bolt.root)
