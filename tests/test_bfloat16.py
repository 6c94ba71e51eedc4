"""bfloat16 layers (rag.embedding.bfloat16) against float32 torch on random weights: the packed product and the fused GELU."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rag.embedding.bfloat16 import MixedLinear, mixed_linears, native_bfloat16  # noqa: E402

pytestmark = pytest.mark.skipif(not native_bfloat16(), reason="this CPU has no native bfloat16 products")


class Intermediate(torch.nn.Module):
    """The shape of a BERT intermediate layer: a Linear, then transformers' exact GELU."""

    def __init__(self) -> None:
        super().__init__()
        from transformers.activations import GELUActivation

        self.dense = torch.nn.Linear(48, 96)
        self.intermediate_act_fn = GELUActivation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return float((a.float() - b.float()).abs().max()) < 0.05 * float(b.abs().max())


@pytest.mark.parametrize("rows", [1, 5, 40])
def test_a_mixed_linear_multiplies_like_float32_for_any_length(rows):
    torch.manual_seed(rows)
    linear = torch.nn.Linear(48, 32)
    x = torch.randn(1, rows, 48)
    mixed = MixedLinear(linear)
    assert mixed.packed  # torch 2.13 lays the weight out once for the AMX tiles
    with torch.inference_mode():
        out = mixed(x)
        assert out.dtype == torch.float32 and out.shape == (1, rows, 32)
        assert _close(out, linear(x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert _close(mixed(x), linear(x))


def test_a_bert_intermediate_layer_gets_its_gelu_fused_with_the_same_result():
    torch.manual_seed(0)
    layer = Intermediate()
    x = torch.randn(2, 9, 48)
    with torch.inference_mode():
        expected = layer(x)
        mixed_linears(layer)
        assert isinstance(layer.dense, MixedLinear) and layer.dense.activation == "gelu"
        assert isinstance(layer.intermediate_act_fn, torch.nn.Identity)
        assert _close(layer(x), expected)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # passages: autocast, GELU applied by the layer
            assert _close(layer(x), expected)
