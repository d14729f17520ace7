"""Smoke check of a deployed service: ``python -m infra.smoke URL [--timeout SECONDS]``.

GETs ``URL/health`` (the process answers) then ``URL/ready`` (its database and Redis answer) and
retries both until they answer 200 in the same round, for at most ``--attempts`` rounds and
``--timeout`` seconds overall (default 300: a fresh ECS deployment registers its targets and
passes the ALB health check within that). Prints what every round saw. Exit 0 only when both
answered 200; 1 otherwise, with the last answers; 2 for a URL that is not http(s).
Redirects are not followed: the service answers 200 itself or the check fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

PATHS = ("/health", "/ready")
DEFAULT_TIMEOUT = 300.0
DEFAULT_INTERVAL = 5.0
DEFAULT_ATTEMPTS = 60
REQUEST_TIMEOUT = 10.0
EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Seen:
    path: str
    status: int | None  # None: no HTTP answer
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == 200

    def __str__(self) -> str:
        answer = str(self.status) if self.status is not None else "no answer"
        return f"{self.path} {answer}" + (f" ({self.detail})" if self.detail else "")


def base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url.strip().rstrip("/")


def probe(client: httpx.Client, base: str, path: str, timeout: float) -> Seen:
    try:
        response = client.get(base + path, timeout=timeout)
    except httpx.HTTPError as exc:
        return Seen(path, None, f"{type(exc).__name__}: {exc}"[:200])
    body = "" if response.status_code == 200 else " ".join(response.text.split())[:200]
    return Seen(path, response.status_code, body)


def check(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    attempts: int = DEFAULT_ATTEMPTS,
    out: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """True once every path of PATHS answered 200 in one round; False at the deadline or after
    ``attempts`` rounds. ``/ready`` is only asked once ``/health`` answered 200."""
    base = base_url(url)
    start = clock()
    deadline = start + timeout
    last: list[Seen] = []
    with httpx.Client(follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            last = []
            for path in PATHS:
                remaining = deadline - clock()
                if remaining <= 0:
                    break
                seen = probe(client, base, path, min(REQUEST_TIMEOUT, remaining))
                last.append(seen)
                if not seen.ok:
                    break
            elapsed = clock() - start
            if last:
                out(f"smoke: attempt {attempt} at {elapsed:.1f} s: " + ", ".join(map(str, last)))
            if len(last) == len(PATHS) and all(s.ok for s in last):
                out(f"smoke: OK: {base} answered 200 on {' and '.join(PATHS)}")
                return True
            if attempt == attempts or clock() + interval >= deadline:
                break
            sleep(interval)
    seen = ", ".join(map(str, last)) or "nothing"
    out(
        f"smoke: FAILED: {base} did not answer 200 on {' and '.join(PATHS)} within "
        f"{timeout:g} s ({attempt} attempts); last seen: {seen}"
    )
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.smoke", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("url", help="the service's base URL, e.g. the serviceUrl stack output")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="overall, seconds")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, help="between rounds")
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS, help="rounds at most")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.interval < 0 or args.attempts < 1:
        parser.error("--timeout must be > 0, --interval >= 0, --attempts >= 1")
    try:
        ok = check(
            args.url,
            timeout=args.timeout,
            interval=args.interval,
            attempts=args.attempts,
            out=lambda line: print(line, flush=True),
        )
    except ValueError as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0 if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
