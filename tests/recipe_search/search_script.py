"""A search in its own process, for the interrupt and kill tests: prints each line as it goes.

usage: search_script.py CACHE OUT [TRACKING_URI]   (FAKE_SLEEP slows each trial down)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_methods as fm  # noqa: E402

import quantrack  # noqa: E402


class Say:
    def stage(self, text):
        print(f"stage: {text}", flush=True)

    def notice(self, text):
        print(text, flush=True)


def main() -> None:
    cache, out = sys.argv[1], sys.argv[2]
    tracking = sys.argv[3] if len(sys.argv) > 3 else None
    fm.register()
    model, X, y = fm.data_and_model()
    r = quantrack.search(model, calibration=X[:300], eval_data=(X[300:], y[300:]), max_drop=0.03, objective="size",
                         methods=[fm.FAKE], time_budget_s=300, cache=cache, out=out, tracking=tracking,
                         latency_budget_s=0.05, model_kind="mlp", progress=Say())
    print(f"DONE {r.search['stopped_because']} {r.champion}", flush=True)


if __name__ == "__main__":
    main()
