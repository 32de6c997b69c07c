import math

import numpy as np
import pytest

from quantrack.lm.corpus import make_windows
from quantrack.lm.perplexity import WindowScores, agreement, perplexity_stats, score_windows
from tests.lm.conftest import TEXT


def test_perplexity_equals_plain_transformers_by_hand(tiny):
    """The user's computation, written with plain transformers: mean loss over the same windows."""
    import torch

    model, tok = tiny
    w = make_windows(tok, [TEXT], 64)
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    losses = []
    with torch.no_grad():
        for start in range(0, len(ids) - 63, 64):
            x = torch.tensor(ids[start:start + 64])[None]
            losses.append(model(x, labels=x).loss.item())
    by_hand = math.exp(sum(losses) / len(losses))  # every window scores 63 tokens: the mean is token-weighted
    ours = score_windows(model, w.ids).perplexity
    assert len(losses) == w.spec.windows
    assert abs(ours / by_hand - 1) < 1e-4


def _scores(nll, tokens=10):
    nll = np.asarray(nll, dtype=np.float64)
    return WindowScores(nll, np.full(len(nll), tokens), np.zeros((len(nll), tokens), dtype=np.int32))


def test_bootstrap_is_paired_seeded_and_token_weighted():
    rng = np.random.default_rng(1)
    base = _scores(rng.uniform(20, 40, size=30))
    worse = _scores(base.nll + 0.5)  # every window 0.05 nats/token worse: increase exp(0.05) - 1
    s = perplexity_stats(base, worse)
    assert s.drop == pytest.approx(math.exp(0.05) - 1)
    assert s.drop_ci[0] == pytest.approx(s.drop, rel=1e-9) and s.drop_ci[1] == pytest.approx(s.drop, rel=1e-9)
    assert s.score_ci[0] < s.score < s.score_ci[1]  # the windows differ: the perplexity itself is uncertain
    assert perplexity_stats(base, worse) == s  # seeded
    alone = perplexity_stats(base)
    assert alone.drop is None and alone.score == pytest.approx(base.perplexity)
    noisy = _scores(base.nll + rng.normal(0.5, 2.0, size=30))
    n = perplexity_stats(base, noisy)
    assert n.drop_ci[0] < n.drop < n.drop_ci[1] and n.drop_ci[1] - n.drop_ci[0] > 0.01


def test_agreement_counts_positions():
    a = _scores([1.0, 2.0])
    b = WindowScores(a.nll, a.tokens, a.top1.copy())
    b.top1[0, :3] = 7  # 3 of 20 positions differ
    assert agreement(a, a) == 1.0 and agreement(b, a) == pytest.approx(17 / 20)
