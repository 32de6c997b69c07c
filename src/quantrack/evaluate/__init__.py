"""Evaluate: ``compare()`` turns a model into measured variants; scores, side-by-side latency,
the champion rule and the typed results they produce."""
