"""Running a coroutine to completion from synchronous code, even where a loop already runs."""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_in_fresh_loop(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh loop in a worker thread (works inside a running loop too)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_factory()).result()  # type: ignore[arg-type]
