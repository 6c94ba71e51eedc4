"""Mixed precision for CPUs that multiply bfloat16 natively (Intel AMX, AVX-512 BF16).

Matrix products run in bfloat16 with float32 sums; embeddings, LayerNorm, softmax and pooling stay float32.
Two paths, each the faster one measured for its job (docs/decisions.md):
- a batch of passages runs under torch.autocast, which casts each weight once per call and keeps the
  activations between products in bfloat16;
- a question, one short text, multiplies by bfloat16 copies of the weights made at load, laid out once for
  oneDNN's tiles, with BERT's GELU fused into the product: autocast would re-cast every weight on every call,
  which costs a short text more than the product itself.
Imported only with the real model: it needs torch.
"""
from __future__ import annotations

import contextlib

import torch


def native_bfloat16() -> bool:
    """Return whether this CPU multiplies bfloat16 in hardware (AMX tiles or AVX-512 BF16)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def resolve_precision(setting: str) -> str:
    """Return "float32" or "bfloat16" for an `embed_precision` setting already checked ("auto" asks the CPU)."""
    if setting == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return setting


def _packed(weight: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Return a bfloat16 copy of `weight` laid out once for oneDNN's matrix tiles, and whether it is packed.

    Unpacked, oneDNN re-lays the weight out on every product, a large share of a short text's time. The
    packing ops are torch's own (inductor's frozen CPU graphs use them); a torch without them gets a plain copy.
    """
    plain = weight.detach().to(torch.bfloat16)
    try:
        return torch.ops.mkldnn._reorder_linear_weight(plain, 1), True
    except (AttributeError, RuntimeError):
        return plain, False


class MixedLinear(torch.nn.Module):
    """A Linear layer, optionally followed by GELU, holding its float32 weights and a packed bfloat16 copy.

    Under autocast the float32 weights go to autocast. Outside it the input is cast down and multiplied by
    the copy; the result comes back in float32, except a fused GELU's, which stays bfloat16 because the next
    layer's product only casts it down again.
    """

    def __init__(self, linear: torch.nn.Linear, activation: str = "none") -> None:
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.activation = activation  # "none" or "gelu" (exact, as BERT's GELUActivation)
        weight16, self.packed = _packed(linear.weight)
        self.register_buffer("weight16", weight16, persistent=False)
        bias16 = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)
        self.register_buffer("bias16", bias16, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled("cpu"):
            product = torch.nn.functional.linear(x, self.weight, self.bias)
            return torch.nn.functional.gelu(product) if self.activation == "gelu" else product
        if self.packed:
            algorithm = "none" if self.activation == "gelu" else ""
            product = torch.ops.mkldnn._linear_pointwise(
                x.to(torch.bfloat16), self.weight16, self.bias16, self.activation, [], algorithm
            )
            return product if self.activation == "gelu" else product.float()
        product = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight16, self.bias16).float()
        return torch.nn.functional.gelu(product) if self.activation == "gelu" else product


def _exact_gelu(module: torch.nn.Module) -> bool:
    """Return whether `module` is transformers' GELUActivation computing the exact (erf) GELU."""
    return type(module).__name__ == "GELUActivation" and getattr(module, "act", None) is torch.nn.functional.gelu


def mixed_linears(module: torch.nn.Module) -> None:
    """Replace every torch.nn.Linear inside `module` by a MixedLinear, in place; a BERT intermediate layer
    (`dense` then an exact GELU) becomes one MixedLinear with the GELU fused into the product."""
    dense = getattr(module, "dense", None)
    if isinstance(dense, torch.nn.Linear) and _exact_gelu(getattr(module, "intermediate_act_fn", None)):
        module.dense = MixedLinear(dense, activation="gelu")
        module.intermediate_act_fn = torch.nn.Identity()
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, MixedLinear(child))
        else:
            mixed_linears(child)


def passage_arithmetic(precision: str) -> contextlib.AbstractContextManager[None]:
    """Return the context a batch of passages is embedded in: autocast to bfloat16, or nothing for float32."""
    if precision == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
