"""responses.jsonl read as a stream: a run's answers are never all in memory at once.

One pass over the file checks every line (as RunStore.responses does). When the file is not
in canonical order it keeps, per (condition, replicate, probe, sample), only where the record
that counts is (its byte offset) and whether it is ok: about 200 bytes a sample, against
1-4 KB for the record. The records themselves are read again from disk, one at a time, in
canonical order (the order and choice of harness.store.records.canonical: the ok record
wins, ties by content)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from harness.errors import StoreError
from harness.store.files import iter_jsonl, open_run_file, read_line_at
from harness.store.records import Key, ResponseRecord, content

Check = Callable[[ResponseRecord], str | None]  # why a record is off the run's plan, or None


class Responses:
    """The answers of responses.jsonl: `len()` keys, `done` of them ok, `torn` lines dropped;
    iterating yields the record that counts for each key, in key order; `every()` yields every
    record in file order (spending counts every attempt).

    A file already in canonical order (keys strictly increasing: what every finished run
    leaves) needs no index at all: it is read straight through. Any other (a run in progress,
    a resumed one) gets the index of offsets, O(samples) but small."""

    def __init__(self, path: Path, check: Check | None = None, message: Callable[[ValidationError], str] = str):
        self.path = path
        self._check = check
        self._message = message
        self._where: dict[Key, int] | None = None  # key -> offset * 2 + (1 if failed); None: in order
        if not self._scan():
            self._where = {}
            self._index()

    def _count(self, record: ResponseRecord | None) -> None:
        if record is None:
            self.torn += 1
        else:
            self.records += 1
            self.ok_records += record.ok

    def _scan(self) -> bool:
        """Count the file; False as soon as a key is not above the one before."""
        self.torn = self.records = self.ok_records = 0
        self._keys = self._done = 0
        last: Key | None = None
        for _, _, record in self._lines():
            self._count(record)
            if record is None:
                continue
            if last is not None and record.key <= last:
                return False
            last = record.key
            self._keys += 1
            self._done += record.ok
        return True

    def _index(self) -> None:
        assert self._where is not None
        self.torn = self.records = self.ok_records = 0
        for _, offset, record in self._lines():
            self._count(record)
            if record is None:
                continue
            key = record.key
            key = (sys.intern(key[0]), key[1], sys.intern(key[2]), key[3])  # one string per name, not per record
            held = self._where.get(key)
            if held is None or self._better(record, held):
                self._where[key] = offset * 2 + (not record.ok)
        self._keys = len(self._where)
        self._done = sum(not code & 1 for code in self._where.values())

    def _lines(self) -> Iterator[tuple[int, int, ResponseRecord | None]]:
        for number, offset, obj in iter_jsonl(self.path):
            if obj is None:
                yield number, offset, None
                continue
            try:
                record = ResponseRecord.model_validate(obj)
            except ValidationError as e:
                raise StoreError(f"{self.path}:{number}: {self._message(e)}") from None
            problem = self._check(record) if self._check else None
            if problem is not None:
                raise StoreError(f"{self.path}:{number}: {problem}")
            yield number, offset, record

    def _better(self, record: ResponseRecord, held: int) -> bool:
        """Whether `record` counts instead of the one held (canonical's rule). Duplicates are
        rare (a retried failure, a resume after a kill), so the held one is read again."""
        if record.ok != (not held & 1):
            return record.ok
        opened = open_run_file(self.path)
        assert opened is not None
        with opened[0] as f:
            old = ResponseRecord.model_validate(read_line_at(f, self.path, held >> 1))
        return content(record) < content(old)

    def __len__(self) -> int:
        return self._keys

    @property
    def done(self) -> int:
        return self._done

    @property
    def failed(self) -> int:
        return self._keys - self._done

    def ok_keys(self) -> set[Key]:
        if self._where is None:
            return {r.key for r in self if r.ok}
        return {key for key, code in self._where.items() if not code & 1}

    def __iter__(self) -> Iterator[ResponseRecord]:
        if self._where is None:
            return self.every()
        return self._read(sorted(self._where))

    def failed_records(self) -> Iterator[ResponseRecord]:
        """The failed record of each key that has no ok one, in key order."""
        if self._where is None:
            return (r for r in self.every() if not r.ok)
        return self._read(sorted(key for key, code in self._where.items() if code & 1))

    def _read(self, keys: list[Key]) -> Iterator[ResponseRecord]:
        opened = open_run_file(self.path)
        if opened is None:
            return
        with opened[0] as f:
            for key in keys:
                assert self._where is not None
                yield ResponseRecord.model_validate(read_line_at(f, self.path, self._where[key] >> 1))

    def every(self) -> Iterator[ResponseRecord]:
        for _, _, record in self._lines():
            if record is not None:
                yield record
