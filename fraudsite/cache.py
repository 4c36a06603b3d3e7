"""The caches of settings.CACHES: one per host without Redis, or Redis shared by every host.

Both add count(key, timeout), the one operation the rate limits (predictions/api/throttling.py) need on
every request: add one to a counter, made with that timeout when it is missing, atomically.

HostFileCache, when no Redis is configured:

Django's FileBasedCache keeps each entry in a file under one directory, so every gunicorn worker of a host
sees the same entries; but its add() and incr() are a read and then a write, so two workers that read the
same count both write count + 1. HostFileCache holds an flock on a lock file in the directory: exclusive
around every write, shared around every read. That makes add() and incr() atomic across processes, as
Redis's are, which the rate limits (predictions/api/throttling.py) rely on.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

LOCK_FILE_NAME = "lock"  # not a *.djcache file: clear() and culling leave it alone


class _Gone(Exception):
    """The entry's file is there, but expired or unreadable."""


class HostFileCache(FileBasedCache):
    """FileBasedCache with its writes and reads serialised by a lock that every process of the host shares.

    Beyond the lock, three differences from Django's: incr() rewrites the entry in place (a rename over an
    existing file costs ext4 about 0.3 ms, a write in place 10 µs; the shared lock keeps readers from
    seeing half of it), incr() keeps the entry's expiry (Django's resets it to the default timeout), and a
    full cache drops expired entries before it drops live ones at random.
    """

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        with self._locked(fcntl.LOCK_SH):
            return super().get(key, default, version)

    def has_key(self, key: str, version: int | None = None) -> bool:
        with self._locked(fcntl.LOCK_SH):
            return super().has_key(key, version)

    def set(self, key: str, value: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        with self._locked(fcntl.LOCK_EX):
            super().set(key, value, timeout, version)

    def touch(self, key: str, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        with self._locked(fcntl.LOCK_EX):
            return super().touch(key, timeout, version)

    def add(self, key: str, value: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        with self._locked(fcntl.LOCK_EX):
            if super().has_key(key, version):
                return False
            super().set(key, value, timeout, version)
            return True

    def count(self, key: str, timeout: int) -> int:
        """Add one to the counter at key, made with this timeout if it is missing; the new count."""
        with self._locked(fcntl.LOCK_EX):
            try:
                return self._incr_locked(key, 1, None)
            except ValueError:  # the counter's first request
                super().set(key, 1, timeout)
                return 1

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        with self._locked(fcntl.LOCK_EX):
            return self._incr_locked(key, delta, version)

    def _incr_locked(self, key: str, delta: int, version: int | None) -> int:
        fname = self._key_to_file(key, version)
        try:
            with open(fname, "r+b") as f:
                return self._add_in_place(f, delta)
        except FileNotFoundError:
            pass
        except _Gone:
            self._delete(fname)
        raise ValueError(f"Key '{key}' not found")

    def _add_in_place(self, f: BinaryIO, delta: int) -> int:
        # FileBasedCache's format: the pickled expiry (a time, or None), then the zlib'd pickled value.
        try:
            expiry = pickle.load(f)
            value = pickle.loads(zlib.decompress(f.read()))
        except (EOFError, pickle.UnpicklingError, zlib.error):  # torn by a crash mid-write: as good as missing
            raise _Gone from None
        if expiry is not None and expiry < time.time():
            raise _Gone
        value += delta
        length = f.tell()
        f.seek(0)
        f.write(pickle.dumps(expiry, self.pickle_protocol))
        f.write(zlib.compress(pickle.dumps(value, self.pickle_protocol)))
        if f.tell() < length:  # truncating costs a few times the write: only when shorter
            f.truncate()
        return value

    def _cull(self) -> None:
        # Called by set() with the lock held. Django's culls at random, and a rate-limit counter culled in
        # its window would let its client start again from zero: expired entries go first.
        filelist = self._list_cache_files()
        if len(filelist) < self._max_entries:
            return
        for fname in filelist:
            try:
                with open(fname, "rb") as f:
                    self._is_expired(f)  # deletes the file if it is
            except FileNotFoundError:
                pass
        super()._cull()  # still full of live entries: Django's random cull

    @contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        # A new open file per use: flock then excludes this process's other threads as well as other processes.
        with self._open_lock_file() as lock:
            fcntl.flock(lock, operation)
            yield  # closing the file releases the lock

    def _open_lock_file(self) -> BinaryIO:
        path = os.path.join(self._dir, LOCK_FILE_NAME)
        try:
            return open(path, "ab")
        except FileNotFoundError:  # the cache directory was removed: Django's set() makes it again too
            self._createdir()
            return open(path, "ab")


class _OneClientPerProcess(RedisCacheClient):
    """Django's client makes a redis.Redis object for every operation, about 0.1 ms of CPU in redis-py 8.1;
    the object holds no connection of its own (the pool does), so one per pool is enough."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client


class SharedRedisCache(RedisCache):
    """Django's RedisCache, with one client object per process and count() in one round trip.

    (Django's incr() asks EXISTS first, a second round trip, and an add() for the first request a third.)
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _OneClientPerProcess

    def count(self, key: str, timeout: int) -> int:
        """Add one to the counter at key, made with this timeout if it is missing; the new count."""
        key = self.make_and_validate_key(key)
        pipeline = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, timeout, nx=True)  # only on the counter's first request
        return pipeline.execute()[0]
