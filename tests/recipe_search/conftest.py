import os
import sys
from pathlib import Path

# One intra-op thread for these small models: on a busy 2-core machine two threads spinning against
# other processes make a 1 ms step take 100 ms (measured). Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # fake_methods, for these tests and their subprocesses
