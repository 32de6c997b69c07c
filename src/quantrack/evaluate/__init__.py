"""Evaluate: ``compare()`` turns a model into measured variants; scores, side-by-side latency, the
CPU facts that explain them and the champion rule. The types it produces live in core/."""
