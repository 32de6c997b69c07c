"""Process-wide settings a comparison changes, put back as they were when it returns.

A notebook that calls ``compare`` twice, or a training script that calls it between epochs,
must find torch's thread count, quantized engine, random state and grad mode, the warning
filters and the environment exactly as it left them.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def preserved_process_state(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads; restore everything listed above after."""
    import numpy as np
    import torch

    saved_threads = torch.get_num_threads()
    saved_engine = torch.backends.quantized.engine
    saved_grad = torch.is_grad_enabled()
    saved_np_random = np.random.get_state()
    saved_env = dict(os.environ)
    # fork_rng: QAT and calibration draw from torch's global generator; the caller's stream goes on untouched.
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(saved_threads)
            if torch.backends.quantized.engine != saved_engine:
                torch.backends.quantized.engine = saved_engine
            torch.set_grad_enabled(saved_grad)
            np.random.set_state(saved_np_random)
            for key in set(os.environ) - set(saved_env):
                del os.environ[key]
            for key, value in saved_env.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
