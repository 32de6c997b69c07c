"""What an ONNX graph contains, for the ONNX Runtime recipes: is it a transformer, and which nodes
form the parts a knowledgeable engineer keeps in float (Optimum's exclusion passes).

Measured on all-MiniLM-L6-v2 (DESIGN.md): ORT's static defaults quantize every Add, including the
one adding the attention mask's large negative values to the scores before each Softmax; one
per-tensor range for that tensor rounds the real scores to zero (cosine 0.37). MatMul only gives
0.94; also leaving the attention (activation x activation) and FFN-output MatMuls in float, 0.99.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The parts of a transformer block that int8 hurts most, by the names the configs use.
MASK_ADD = "attention-mask-add"  # the Add feeding each Softmax (scores + mask's -inf-like values)
SOFTMAX = "softmax"
LAYERNORM = "layernorm"  # LayerNormalization ops and decomposed ones (ReduceMean ... in a LayerNorm scope)
GELU = "gelu"  # Gelu ops and the Erf subgraph the exporter writes for nn.GELU
ATTENTION_MATMUL = "attention-matmul"  # Q·Kᵀ and softmax·V: both inputs are activations
FFN_OUTPUT = "ffn-output"  # the MatMul after GELU: its inputs have outliers (24 against a 99.9th pct of 2.5)
PARTS = (MASK_ADD, SOFTMAX, LAYERNORM, GELU, ATTENTION_MATMUL, FFN_OUTPUT)

_GELU_OPS = ("Gelu", "FastGelu", "BiasGelu")
_PASS_THROUGH = ("Transpose", "Cast", "Reshape", "Identity", "Squeeze", "Unsqueeze")


@dataclass(frozen=True)
class GraphFacts:
    """What the recipes choose their defaults from."""

    ops: frozenset[str]
    n_softmax: int
    n_attention_matmuls: int
    parts: dict[str, tuple[str, ...]]  # part -> the node names forming it

    @property
    def is_transformer(self) -> bool:
        """Softmax over scores computed by an activation x activation MatMul: self-attention."""
        return self.n_softmax > 0 and self.n_attention_matmuls > 0

    def nodes(self, parts: Iterable[str]) -> list[str]:
        out: list[str] = []
        for part in parts:
            out.extend(self.parts.get(part, ()))
        return list(dict.fromkeys(out))


def facts(model_bytes: bytes) -> GraphFacts:
    import onnx

    graph = onnx.load_from_string(model_bytes).graph
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def constant(name: str) -> bool:  # an initializer, possibly through a transpose/cast
        seen = 0
        while name not in constants and name in producer and producer[name].op_type in _PASS_THROUGH and seen < 4:
            name = producer[name].input[0]
            seen += 1
        return name in constants

    parts: dict[str, list[str]] = {p: [] for p in PARTS}
    gelu_outputs: set[str] = set()
    for n in graph.node:
        if n.op_type == "Softmax":
            parts[SOFTMAX].append(n.name)
            src = producer.get(n.input[0])
            if src is not None and src.op_type == "Add":
                parts[MASK_ADD].append(src.name)
        elif n.op_type == "LayerNormalization" or (
                "layernorm" in n.name.lower().replace("_", "") and n.op_type not in ("MatMul", "Gemm", "Conv")):
            parts[LAYERNORM].append(n.name)
        elif n.op_type in _GELU_OPS:
            parts[GELU].append(n.name)
            gelu_outputs.update(n.output)
        elif n.op_type == "Erf":  # x * 0.5 * (1 + erf(x / sqrt 2)): the Div before, the Add and Muls after
            group = [n]
            if (before := producer.get(n.input[0])) is not None and before.op_type in ("Div", "Mul"):
                group.append(before)
            frontier = [n]
            for _ in range(3):
                frontier = [c for f in frontier for o in f.output for c in consumers.get(o, [])
                            if c.op_type in ("Add", "Mul")]
                group.extend(frontier)
            parts[GELU].extend(g.name for g in group)
            if frontier:
                gelu_outputs.update(o for f in frontier for o in f.output)
    n_attention = 0
    for n in graph.node:
        if n.op_type != "MatMul" or len(n.input) < 2:
            continue
        if not constant(n.input[0]) and not constant(n.input[1]):
            parts[ATTENTION_MATMUL].append(n.name)
            n_attention += 1
        elif n.input[0] in gelu_outputs:
            parts[FFN_OUTPUT].append(n.name)
    return GraphFacts(ops=frozenset(n.op_type for n in graph.node), n_softmax=len(parts[SOFTMAX]),
                      n_attention_matmuls=n_attention,
                      parts={p: tuple(dict.fromkeys(v)) for p, v in parts.items()})


def check_parts(parts: Iterable[str], what: str) -> None:
    from quantrack.errors import QuantrackError

    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise QuantrackError(f"{what}: unknown part {unknown[0]!r}; known: {', '.join(PARTS)}")
