"""float32 layers with weights laid out once for oneDNN (rag.embedding.float32) against torch's own Linear."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rag.embedding import float32  # noqa: E402
from rag.embedding.float32 import PackedLinear, packed_linears  # noqa: E402


class Layer(torch.nn.Module):
    """A BERT-like block: two Linears, one nested, and a LayerNorm that must stay as it is."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(48, 96)
        self.output = torch.nn.Sequential(torch.nn.Linear(96, 48), torch.nn.LayerNorm(48))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(torch.nn.functional.gelu(self.dense(x)))


@pytest.mark.parametrize("shape", [(1, 48), (5, 48), (40, 48), (2, 9, 48)])
def test_a_packed_linear_gives_the_linears_product_for_any_rows(shape):
    torch.manual_seed(len(shape) * 100 + shape[0])
    linear = torch.nn.Linear(48, 32)
    layer = float32.packed(linear)
    assert isinstance(layer, PackedLinear)  # torch 2.13 has the packing ops
    x = torch.randn(*shape)
    with torch.inference_mode():
        out, expected = layer(x), linear(x)
    assert out.dtype == torch.float32 and out.shape == expected.shape
    assert float((out - expected).abs().max()) < 1e-5


def test_every_linear_of_a_model_is_packed_in_place_with_the_same_result():
    torch.manual_seed(0)
    model = Layer()
    x = torch.randn(3, 7, 48)
    with torch.inference_mode():
        expected = model(x)
        packed_linears(model)
        assert isinstance(model.dense, PackedLinear) and isinstance(model.output[0], PackedLinear)
        assert isinstance(model.output[1], torch.nn.LayerNorm)
        assert float((model(x) - expected).abs().max()) < 1e-5


def test_a_torch_without_the_packing_ops_keeps_the_plain_linear(monkeypatch):
    def missing(*args):
        raise RuntimeError("no mkldnn")

    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", missing)
    linear = torch.nn.Linear(8, 4)
    assert float32.packed(linear) is linear
