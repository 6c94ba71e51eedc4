"""float32 matrix products with each weight laid out once for oneDNN, for CPUs without bfloat16 products.

torch's float32 Linear multiplies through a general matrix product that re-reads the weight in its stored layout
on every call; a question is a few dozen rows, so that layout work is a large share of its product. The weights
here are laid out once at load with torch's own packing ops (the ones inductor's frozen CPU graphs use), and every
product (a question's or a batch of passages') runs on that copy. The sums stay float32: a vector moves by about
1e-7 from the unpacked product's (docs/decisions.md, *float32 weights laid out once too*). A torch without those ops
keeps the plain Linear. Imported only with the real model: it needs torch.
"""
from __future__ import annotations

import torch

# The rows the layout is chosen for: a question's tokens with the e5 prompt are about this many.
EXPECTED_ROWS = 32


class PackedLinear(torch.nn.Module):
    """A float32 Linear layer whose weight is held in oneDNN's layout; the same products, the same shapes."""

    def __init__(self, linear: torch.nn.Linear, packed: torch.Tensor) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("packed", packed, persistent=False)
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")


def packed(linear: torch.nn.Linear) -> torch.nn.Module:
    """Return `linear` as a PackedLinear, or `linear` itself where this torch cannot lay the weight out."""
    try:
        copy = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), EXPECTED_ROWS)
        layer = PackedLinear(linear, copy)
        with torch.inference_mode():  # a torch whose packed product fails is found here, not on a question
            layer(torch.zeros(1, linear.in_features))
    except (AttributeError, RuntimeError):
        return linear
    return layer


def packed_linears(module: torch.nn.Module) -> None:
    """Replace every float32 torch.nn.Linear inside `module` by its packed form, in place."""
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear) and child.weight.dtype == torch.float32:
            setattr(module, name, packed(child))
        else:
            packed_linears(child)
