"""The Ray runtime a sweep runs on: a local one sized to the machine, or a cluster's head to join.

Ray is told to keep to itself: no usage statistics sent to its vendor, no Tune SIGINT handler (the
sweep wants Ctrl-C as a KeyboardInterrupt, to mark its runs KILLED), no Tune progress tables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from quantrack.errors import QuantrackError, first_line


def is_loopback(address: str) -> bool:
    return address.rpartition(":")[0] in ("127.0.0.1", "localhost", "[::1]", "::1")


def start(address: str | None, timing: dict[str, float], num_cpus: int | None = None) -> bool:
    """Join ``address`` or start a local runtime sized to the machine; True when we started it."""
    import logging

    # Ray reports usage statistics to its vendor unless told not to: quantrack talks to nobody.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Tune's own SIGINT handler would swallow Ctrl-C into a "graceful" stop we cannot see;
    # we want the KeyboardInterrupt, to shut Ray down and mark the runs KILLED ourselves.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    # Tune's own experiment tables would interleave with quantrack's lines (verbose=0 silences the old output).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if address and "RAY_AUTH_MODE" not in os.environ and (
            os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
            or (Path.home() / ".ray" / "auth_token").is_file()):
        # `ray start --head` (2.60) turns token authentication on when a token exists, but a driver
        # joining with ray.init(address=...) sends its token only in token mode (read when ray is imported).
        os.environ["RAY_AUTH_MODE"] = "token"
    if not address:
        # A runtime of our own listens on loopback only: Ray otherwise takes the machine's outward address
        # for the node and its servers listen on every interface. This switch (read when ray is imported)
        # makes Ray treat the machine as a single node at 127.0.0.1; joining a cluster must not set it.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    t = time.perf_counter()
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            cpus = num_cpus or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
            # "local": a new runtime even when a `ray start --head` cluster runs on this machine
            # (plain ray.init() would join that one).
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray runtime"
        raise QuantrackError(f"cannot start or join {where}: {first_line(e)}") from None
    timing["ray_start_s"] = round(time.perf_counter() - t, 3)
    return address is None


def check_reachable(address: str) -> None:
    """A wrong --ray-address is one line within seconds (Ray itself retries for ~15 s, logging every second)."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise QuantrackError(f"--ray-address must be HOST:PORT (the head's `ray start --head --port`), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise QuantrackError(f"cannot reach the Ray head at {address}: {e.strerror or e}") from None


def stop() -> None:
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()  # a joined cluster stays up; a runtime we started stops with its workers
