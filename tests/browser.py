"""Headless Chromium for the tests that look at pages (Debian's package; flags as the probe found
them: without the background-networking ones Chromium keeps knocking on this closed network)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or (p if Path(p := "/usr/bin/chromium").exists() else None)


def run_chromium(tmp: Path, url: str, width: int, height: int, *args: str, budget_ms: int = 5000,
                 timeout: int = 120, hide_scrollbars: bool = True) -> subprocess.CompletedProcess:
    """Load ``url`` in a fresh profile under ``tmp`` at width x height; ``args`` add --dump-dom or --screenshot."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", *(["--hide-scrollbars"] if hide_scrollbars else []),
           "--force-device-scale-factor=1", f"--user-data-dir={profile}", f"--window-size={width},{height}",
           f"--virtual-time-budget={budget_ms}", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
