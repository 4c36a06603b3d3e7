"""fraudsite.cache.HostFileCache: Django's file cache, with add() and incr() atomic across the processes of a host."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fraudsite.cache import HostFileCache


@pytest.fixture
def files(tmp_path) -> HostFileCache:
    return HostFileCache(str(tmp_path / "cache"), {"OPTIONS": {"MAX_ENTRIES": 35}})


def test_increments_from_many_processes_at_once_are_all_counted(files, in_processes):
    files.add("count", 0, 60)

    def add_fifty(_: int) -> int:
        for _ in range(50):
            files.incr("count")
        return 0

    in_processes(add_fifty, 6)

    # Django's FileBasedCache reads, then writes: increments made at the same time are lost.
    assert files.get("count") == 300


def test_of_many_processes_adding_one_key_at_once_exactly_one_succeeds(files, in_processes):
    added = in_processes(lambda i: files.add("first", i, 60), 8)

    assert sum(added) == 1
    assert files.get("first") == added.index(True)


def test_readers_never_see_an_entry_half_rewritten(files, in_processes):
    # incr() rewrites the entry in place, not by a rename: readers wait for the shared lock.
    files.add("count", 0, 60)

    def work(i: int) -> list:
        if i % 2:
            return [files.incr("count") for _ in range(300)]
        return [files.get("count") for _ in range(300)]

    seen = in_processes(work, 6)

    assert all(isinstance(value, int) for values in seen for value in values)
    assert all(values == sorted(values) for values in seen)
    assert files.get("count") == 900


def test_an_entry_torn_by_a_crash_counts_as_missing(files):
    files.add("torn", 1, 60)
    Path(files._key_to_file("torn")).write_bytes(b"\x80\x05half")

    with pytest.raises(ValueError, match="not found"):
        files.incr("torn")
    assert files.add("torn", 1, 60)


def test_an_increment_keeps_the_entrys_expiry(files, monkeypatch):
    # Django's incr() rewrites the entry with the default timeout (300 s): an hour's counter would vanish early,
    # and a second's would live on for five minutes.
    files.add("hour", 1, 3600)
    files.add("second", 1, 1)
    files.incr("hour")
    files.incr("second")
    later = time.time() + 1000
    monkeypatch.setattr(time, "time", lambda: later)

    assert (files.get("hour"), files.get("second")) == (2, None)


def test_incrementing_a_missing_or_expired_key_is_a_value_error(files):
    files.add("gone", 1, 0)  # a timeout of 0 expires at once

    for key in ("never-set", "gone"):
        with pytest.raises(ValueError, match="not found"):
            files.incr(key)


def test_a_full_cache_drops_expired_entries_before_live_ones(files):
    for number in range(30):
        files.set(f"expired-{number}", number, 0)
    for number in range(10):
        files.set(f"live-{number}", number, 3600)

    files.set("one-more", 0, 3600)  # 40 entries, over MAX_ENTRIES: a cull

    # Django's culls a third at random: all ten live entries would survive one time in a few thousand.
    assert [files.get(f"live-{number}") for number in range(10)] == list(range(10))
    assert len(list(Path(files._dir).glob("*.djcache"))) == 11


def test_clear_empties_the_cache_and_leaves_its_lock_file(files):
    files.add("key", 1, 60)

    files.clear()

    assert files.get("key") is None
    assert [path.name for path in Path(files._dir).iterdir()] == ["lock"]


# --- fraudsite.cache.SharedRedisCache -----------------------------------------------------------


@pytest.fixture
def redis_cache(redis_server):
    """SharedRedisCache on the machine's Redis, under a key prefix of this test's own, removed after."""
    import secrets

    from fraudsite.cache import SharedRedisCache

    client = redis_server
    prefix = f"fraudsite-test-{secrets.token_hex(4)}"
    yield SharedRedisCache("redis://127.0.0.1:6379/0", {"KEY_PREFIX": prefix}), client, prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


def test_a_redis_counter_gets_its_expiry_once_and_keeps_it(redis_cache):
    cache, client, _ = redis_cache

    counts = [cache.count("window", 60)]
    key = cache.make_key("window")
    client.expire(key, 5)  # as if the window were nearly over: later counts must not extend it
    counts += [cache.count("window", 60) for _ in range(3)]

    assert counts == [1, 2, 3, 4]
    assert 0 < client.ttl(key) <= 5
    assert cache.get("window") == 4  # the same integer Django's get() reads


def test_a_redis_cache_keeps_one_client_object_per_process(redis_cache):
    cache, _, _ = redis_cache

    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=True)
