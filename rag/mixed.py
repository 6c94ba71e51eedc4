"""Mixed precision for CPUs that multiply bfloat16 natively (Intel AMX, AVX-512 BF16).

Matrix products run in bfloat16 with float32 sums; embeddings, LayerNorm, softmax and pooling stay float32.
Two paths, each the faster one measured for its job (README, "Speed"):
- a batch of passages runs under torch.autocast, which casts each weight once per call and keeps the
  activations between products in bfloat16 (95 seed passages: 2.0 s against 6.3 s in float32, one thread);
- a question, one short text, multiplies by bfloat16 copies of the weights made at load: autocast would
  re-cast every weight on every call and make it slower (20 ms against 27 in float32; autocast 29 ms).
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


class MixedLinear(torch.nn.Module):
    """A Linear layer holding its float32 weights and a bfloat16 copy: under autocast the float32 weights
    go to autocast; outside it the input is cast down, multiplied by the copy, and cast back."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias
        self.register_buffer("weight16", linear.weight.detach().to(torch.bfloat16), persistent=False)
        bias16 = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)
        self.register_buffer("bias16", bias16, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled("cpu"):
            return torch.nn.functional.linear(x, self.weight, self.bias)
        return torch.nn.functional.linear(x.to(torch.bfloat16), self.weight16, self.bias16).to(x.dtype)


def mixed_linears(module: torch.nn.Module) -> int:
    """Replace every torch.nn.Linear inside `module` by a MixedLinear, in place; return how many."""
    replaced = 0
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, MixedLinear(child))
            replaced += 1
        else:
            replaced += mixed_linears(child)
    return replaced


def passage_arithmetic(precision: str) -> contextlib.AbstractContextManager[None]:
    """Return the context a batch of passages is embedded in: autocast to bfloat16, or nothing for float32."""
    if precision == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
