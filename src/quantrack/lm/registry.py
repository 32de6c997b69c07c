"""The LM comparison's champion into MLflow's model registry, by the classifier's rules.

:func:`package` saves the champion as a pyfunc (served.py's data folder, packaged by
mlflow_models/lm_packaging.py) and returns the *registry intent* that
``Tracker.register`` replays through mlflow_models/registration.py and promotion.py: one version
per run, ``@challenger`` on it, ``@champion`` moved only when there is none yet, on
``promote``, or when it beats the current champion on the same token windows under the same rule
(prefer, max_increase): fewer weight bytes (or a decode step more than 5 % faster) while losing at
most ``max_increase`` of perplexity to it. The figures are the version's tags, as for classifiers.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantrack.errors import QuantrackError, first_line

REGISTER_CHOICES = ("none", "champion")
PYFUNC_DIR = "pyfunc"  # the run's artifact folder of the packaged champion (as registration.PYFUNC_DIR)


@dataclass(frozen=True)
class Registration:
    """What compare_lm registers its champion as, decided before anything is measured."""

    name: str  # the registered model (checked by registration.check_model_name)
    promote: bool  # move @champion even if the champion does not beat the current one
    data_sha256: str  # :func:`fingerprint` of the scored windows


def check_register(register: str, tracking: Any, model_name: str | None) -> None:
    """Refuse, before anything is measured, a registration that cannot happen."""
    if register not in REGISTER_CHOICES:
        raise QuantrackError(f"register must be one of {', '.join(REGISTER_CHOICES)}, got {register!r} (an LM "
                             "registers only its champion: every version holds a whole fp32 checkpoint)")
    if register == "none":
        return
    if not tracking:
        raise QuantrackError("register needs tracking: the model registry is part of an MLflow store "
                             "(pass tracking=True or a tracking URI; --tracking-uri)")
    if model_name is not None:
        from quantrack.mlflow_models.registration import check_model_name

        check_model_name(model_name)


def default_model_name(source: str | None, model: Any) -> str:
    """quantrack-lm-<the GGUF file's or folder's stem>, else quantrack-lm-<model class>."""
    stem = Path(source).name if source else type(model).__name__
    stem = re.sub(r"\.gguf$", "", stem, flags=re.I)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "model"
    return f"quantrack-lm-{stem}"[:200]


def fingerprint(spec, ids) -> str:
    """sha256 of the scored token windows and how they were cut (a WindowSpec and its int64 ids):
    "the same data" for two LM versions, as the data's sha256 is for two classifier versions."""
    h = hashlib.sha256()
    h.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    h.update(ids.astype("<i8").tobytes())
    return h.hexdigest()


def package(report, model, tokenizer, dest: Path, registration: Registration) -> dict[str, Any]:
    """Save the champion as a pyfunc under ``dest/<champion>``; return the registry intent."""
    import tempfile

    from quantrack.lm import served
    from quantrack.lm.methods import get_lm_method
    from quantrack.mlflow_models.lm_packaging import save_pyfunc
    from quantrack.mlflow_models.registration import ALIAS

    champ = report.variant(report.champion)
    method = get_lm_method(champ.name)
    with tempfile.TemporaryDirectory(prefix="quantrack-lm-") as scratch:
        try:
            data = served.save_data(model, tokenizer, champ.name, champ.config or {}, Path(scratch) / "lm",
                                    int(report.config["max_new_tokens"]))
        except QuantrackError:
            raise
        except Exception as e:  # a model or tokenizer transformers cannot write: one line, the run is undone
            raise QuantrackError(f"cannot save {type(model).__name__} for the registry: {type(e).__name__}: "
                                 f"{first_line(e)}") from None
        save_pyfunc(data, dest / champ.name, served.__name__, list(method.requires))
    s, decode = champ.stats, champ.decode
    entry = {"variant": champ.name, "artifact_path": f"{PYFUNC_DIR}/{champ.name}", "accuracy": None,
             "perplexity": champ.score, "perplexity_ci": list(s.score_ci) if s and s.score_ci else None,
             "increase": s.drop if s else None, "increase_ci": list(s.drop_ci) if s and s.drop_ci else None,
             "file_bytes": champ.weight_bytes, "file_ratio": champ.payload_ratio if champ.name != "fp32" else 1.0,
             "p50_us": decode.p50_us if decode else None, "speedup": decode.speedup if decode else None,
             "speedup_ci": list(decode.speedup_ci) if decode and decode.speedup_ci else None,
             "verdict": decode.verdict if decode else None, "batch_size": 1,
             "timed": "one decode step with the KV cache, batch 1"}
    budget = report.budget
    return {"name": registration.name, "versions": [entry], "champion": champ.name,
            # The LM champion is within its budget by construction (or is fp32 itself): always @challenger.
            "alias": ALIAS, "fingerprint": registration.data_sha256, "data_source": report.source or "texts",
            "rule": {"metric": "perplexity", "prefer": budget["prefer"], "max_increase": budget["max_drop"]},
            "promote": registration.promote}
