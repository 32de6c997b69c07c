"""Where trials run: in this process, one at a time, or as Ray tasks (a local runtime sized to
``workers``, or an existing cluster at ``ray_address``).

Both give the same trial results for the same recipes (a trial is a pure function of the setup
and the recipe, but for its latency figures); the driver decides the order either way. On Ray,
each task holds ``threads`` CPUs, and a node-local file lock (sweep/gate.py) keeps two timing
phases on one machine from overlapping, as in ``quantrack sweep``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quantrack.recipe_search.recipe import Recipe
from quantrack.recipe_search.trial import Setup, TrialResult, run_trial

Done = tuple[Recipe, TrialResult, Any]  # the recipe, its result, the live variant (local runs only)


class LocalExecutor:
    """Trials in this process: Ctrl-C interrupts the running trial itself."""

    capacity = 1
    where = "this process"

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self._done: list[Done] = []

    @property
    def running(self) -> int:
        return 0

    def submit(self, recipe: Recipe, trial_id: int, keep: bool = True) -> None:
        result, variant = run_trial(self.setup, recipe, trial_id, keep=keep)
        self._done.append((recipe, result, variant))

    def wait(self) -> list[Done]:
        done, self._done = self._done, []
        return done

    def cancel(self) -> list[Recipe]:
        return []

    def close(self) -> None:
        pass


def _remote_trial(setup: Setup, recipe: dict[str, Any], trial_id: int) -> dict[str, Any]:
    result, _ = run_trial(setup, Recipe.from_dict(recipe), trial_id)
    return result.to_dict()


class RayExecutor:
    """Trials as Ray tasks; results come back as plain dicts (a variant stays on its worker)."""

    def __init__(self, setup: Setup, address: str | None, workers: int, say: Callable[[str], None]) -> None:
        from quantrack.sweep import ray_runtime
        from quantrack.sweep.gate import TimingGate

        if address:
            ray_runtime.check_reachable(address)
        self.timing: dict[str, float] = {}
        setup.timing_gate = TimingGate()  # one timing phase per machine at a time
        self.started_here = ray_runtime.start(address, self.timing, num_cpus=None if address else workers * setup.threads)
        import ray

        self.ray = ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        # A local runtime was sized to the workers asked for; a cluster runs as many as its CPUs hold.
        self.capacity = max(1, workers if not address else cpus // setup.threads)
        self.where = f"the Ray cluster at {address}" if address else f"a local Ray runtime ({cpus} CPUs)"
        say(f"trials run on {self.where}, {self.capacity} at a time")
        self._setup_ref = ray.put(setup)
        self._task = ray.remote(num_cpus=setup.threads, max_retries=0)(_remote_trial)
        self._pending: dict[Any, Recipe] = {}

    @property
    def running(self) -> int:
        return len(self._pending)

    def submit(self, recipe: Recipe, trial_id: int, keep: bool = True) -> None:
        ref = self._task.remote(self._setup_ref, recipe.to_dict(), trial_id)
        self._pending[ref] = recipe

    def wait(self) -> list[Done]:
        if not self._pending:
            return []
        ready, _ = self.ray.wait(list(self._pending), num_returns=1)
        out = []
        for ref in ready:
            recipe = self._pending.pop(ref)
            try:
                result = TrialResult.from_dict(self.ray.get(ref))
            except Exception as e:  # the worker died (out of memory, a crashed kernel): the trial failed
                from quantrack.errors import first_line

                result = TrialResult(id=-1, recipe=recipe.to_dict(), method=recipe.method, label=recipe.label(),
                                     status="failed", reason=f"the Ray task failed: {type(e).__name__}: "
                                                             f"{first_line(e)}", float_layers=list(recipe.float_layers))
            out.append((recipe, result, None))
        return out

    def cancel(self) -> list[Recipe]:
        dropped = list(self._pending.values())
        for ref in self._pending:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self._pending.clear()
        return dropped

    def close(self) -> None:
        from quantrack.sweep import ray_runtime

        self.cancel()
        ray_runtime.stop()
