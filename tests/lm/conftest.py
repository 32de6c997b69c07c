"""A tiny randomly initialised Llama (no download) and a byte-level tokenizer trained in the test."""

from __future__ import annotations

import pytest

TEXT = ("The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. "
        "How vexingly quick daft zebras jump! ") * 30
# compare_lm's latency_budget_s where timing is not what a test checks: a tiny model's call takes
# milliseconds, and the timer still takes its minimum of side-by-side windows.
FAST = 0.2


def tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([TEXT], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")


def tiny_model(vocab: int, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, eos_token_id=0, pad_token_id=0, bos_token_id=0)
    torch.manual_seed(seed)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="session")
def tiny():
    """(model, tokenizer)"""
    tokenizer = tiny_tokenizer()
    return tiny_model(len(tokenizer)), tokenizer


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory, tiny):
    model, tokenizer = tiny
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def built(tiny):
    """name -> (the variant or the LMMethodUnavailable it raised, whether fp32's weights were left as they
    were): each method built once on the tiny Llama per session (the OpenVINO ones take seconds each)."""
    import torch

    from quantrack.lm.methods import LMMethodUnavailable, get_lm_method

    model, _ = tiny
    cache = {}

    def build(name):
        if name not in cache:
            method = get_lm_method(name)
            before = {k: v.clone() for k, v in model.state_dict().items()}
            try:
                if method.calibrated:  # ranks the 2 blocks on calibration windows; keeps 1 of them float
                    calibration = (torch.arange(4 * 32) % 300).reshape(4, 32).numpy()
                    variant = method.build(model, method.config(keep=1, windows=2), calibration=calibration)
                else:
                    variant = method.build(model, method.config())
            except LMMethodUnavailable as e:
                variant = e
            cache[name] = variant, all((before[k] == v).all() for k, v in model.state_dict().items())
        return cache[name]

    return build
