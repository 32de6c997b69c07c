"""Causal language models through the same honest comparison: perplexity, tokens per second, memory.

One job per module: ``loading`` (a folder or GGUF file into a transformers model, no code run),
``corpus`` (texts into fixed token windows, recorded so anyone can reproduce the figure),
``perplexity`` (window scores, the bootstrap intervals, top-1 agreement), ``generation`` (the
greedy check), ``cost`` (prefill and decode timed against fp32, weight bytes, peak memory),
``methods`` (the LM methods as typed configs, their own registry), ``openvino`` (an LM as an
OpenVINO IR with its KV cache, NNCF weight compression), ``sensitivity`` (one block quantized at a
time, ranked on calibration texts; the mixed-blocks variant), ``per_block`` (that table alone),
``unavailable`` (the exception a method that cannot run raises), ``champion`` (the
lower-is-better rule), ``results`` and ``report`` (what a comparison returns and writes),
``compare`` (:func:`compare_lm`, which ties them together).

The package sits above core/, methods/ and evaluate/ and below cli/; importing it imports no torch.
"""
