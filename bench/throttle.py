"""The rate limit's cost per request: the fixed-window counter (predictions/api/throttling.py) on each cache
settings.CACHES can choose, beside DRF's ScopedRateThrottle, which it replaced (a list of timestamps per
client, read and rewritten whole on each request).

One client at THROTTLE_SCORING's default, 100000/minute, so nothing is refused; each figure is the mean of
a run of requests, after the given number already counted in the window; "of which CPU" is this process's
own (time.process_time), the rest is waiting: for the disk, for Redis, or for a core. Redis is the
machine's, at 127.0.0.1:6379, under a key prefix of this run's own, removed after.

    .venv/bin/python bench/throttle.py
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

RUN = 1000  # requests per figure
REDIS_URL = "redis://127.0.0.1:6379/0"


def main() -> None:
    work = tempfile.mkdtemp(prefix="fraudsite-bench-throttle-")
    os.environ.update(
        {
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 30,
            "FRAUDSITE_AUDIT_KEY": "bench-only-audit-key-0123456789abcdef",
            "FRAUDSITE_VAR_DIR": work,
            "DJANGO_SETTINGS_MODULE": "fraudsite.settings",
        }
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.cache.backends.filebased import FileBasedCache
    from django.core.cache.backends.locmem import LocMemCache
    from django.core.cache.backends.redis import RedisCache
    from rest_framework.throttling import ScopedRateThrottle

    from fraudsite.cache import HostFileCache
    from predictions.api import throttling

    prefix = f"fraudsite-bench-{secrets.token_hex(4)}"
    caches = {
        "HostFileCache": HostFileCache(f"{work}/host", {}),
        "RedisCache": RedisCache(REDIS_URL, {"KEY_PREFIX": prefix}),
        "FileBasedCache": FileBasedCache(f"{work}/django", {}),
        "LocMemCache (per process)": LocMemCache("bench", {}),
    }
    request = SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=1), META={})
    view = SimpleNamespace(throttle_scope="scoring")

    def counter(cache) -> Callable[[], bool]:
        throttling.cache = cache
        return lambda: throttling.RoleRateThrottle().allow_request(request, view)

    def drf(cache) -> Callable[[], bool]:
        def check() -> bool:
            throttle = ScopedRateThrottle()
            throttle.cache = cache
            return throttle.allow_request(request, view)

        return check

    print(f"{'throttle':<22} {'cache':<26} {'after':>7} {'µs per request':>15} {'of which CPU':>13}")
    for name, make in (("fixed-window counter", counter), ("DRF ScopedRateThrottle", drf)):
        for cache_name, cache in caches.items():
            if make is counter and cache_name in ("FileBasedCache", "LocMemCache (per process)"):
                continue  # the counter needs add and incr atomic across processes: Redis or HostFileCache
            check = make(cache)
            done = 0
            for after in (0, 10_000):
                while done < after:
                    check()
                    done += 1
                started, cpu_started = time.perf_counter(), time.process_time()
                for _ in range(RUN):
                    assert check()
                done += RUN
                per_request = (time.perf_counter() - started) / RUN * 1e6
                cpu = (time.process_time() - cpu_started) / RUN * 1e6
                print(f"{name:<22} {cache_name:<26} {after:>7} {per_request:>15.0f} {cpu:>13.0f}")
    client = caches["RedisCache"]._cache.get_client(write=True)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


if __name__ == "__main__":
    main()
