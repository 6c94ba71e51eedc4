"""Questions embedded as packed sequences: the same vector for a question alone and in any batch.

A padded batch makes a short question's attention run over its padding under a mask, and the masked
kernels round otherwise than the unmasked one a question alone gets, so a question's vector (and, near a
threshold, its answer) would depend on which other questions shared its forward pass. Here the batch's
tokens are packed with no padding: every row-wise step (embeddings, the linear layers, LayerNorm, GELU)
runs over all of them at once, and attention runs for the questions of each length together, unmasked,
which is what a question alone gets. Packing also spares the padding's share of the matrix products.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

# Rows per product of the feed-forward output layer (its inner dimension is the widest). oneDNN picks its
# blocking by the number of rows, and past about this many a row's sums came out rounded otherwise than with
# fewer (docs/decisions.md); the other products kept every row's value at any count the tests reach.
ROWS = 128


def packable(model: Any) -> bool:
    """Return whether `model` (a sentence-transformers model) is a BERT encoder with mean pooling this module
    can run packed; other models keep sentence-transformers' own padded forward."""
    try:
        bert, pooling = model[0].auto_model, model[1]
    except (IndexError, TypeError, AttributeError):
        return False
    return (
        type(bert).__name__ == "BertModel"
        and getattr(pooling, "pooling_mode", None) == "mean"
        and all(type(layer.attention.self).__name__ == "BertSelfAttention" for layer in bert.encoder.layer)
    )


class PackedEncoder:
    """Runs a BertModel over token id lists with no padding; returns mean-pooled, normalised float32 rows."""

    def __init__(self, bert: Any) -> None:
        self.bert = bert

    @torch.inference_mode()
    def encode(self, ids: Sequence[Sequence[int]]) -> torch.Tensor:
        """Return one unit vector per token id list, in the order given."""
        order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))  # each length's questions side by side
        lengths = [len(ids[i]) for i in order]
        tokens = torch.tensor([token for i in order for token in ids[i]], dtype=torch.long)
        positions = torch.cat([torch.arange(length) for length in lengths])
        hidden = self.bert.embeddings(input_ids=tokens[None], position_ids=positions[None])[0]
        groups = _groups(lengths)
        for layer in self.bert.encoder.layer:
            hidden = self._layer(layer, hidden, groups)
        pooled = torch.stack([part.mean(dim=0) for part in torch.split(hidden, lengths)])
        out = torch.empty_like(pooled)
        out[torch.tensor(order)] = pooled
        return torch.nn.functional.normalize(out.float(), dim=1)

    @staticmethod
    def _layer(layer: Any, hidden: torch.Tensor, groups: list[tuple[int, int, int]]) -> torch.Tensor:
        own = layer.attention.self
        heads, size = own.num_attention_heads, own.attention_head_size
        query, key, value = own.query(hidden), own.key(hidden), own.value(hidden)
        mixed = torch.empty_like(query)
        for start, count, length in groups:
            end = start + count * length
            q, k, v = (rows[start:end].view(count, length, heads, size).transpose(1, 2) for rows in (query, key, value))
            attended = torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.0, scale=own.scaling)
            mixed[start:end] = attended.transpose(1, 2).reshape(count * length, heads * size)
        attention = layer.attention.output(mixed, hidden)
        return _rowwise(layer.output, layer.intermediate(attention), attention)


def _rowwise(step: Any, *inputs: torch.Tensor) -> torch.Tensor:
    """Return `step` applied to the inputs' rows in blocks of at most ROWS, the blocks' results stacked."""
    count = inputs[0].shape[0]
    if count <= ROWS:
        return step(*inputs)
    return torch.cat([step(*(rows[start : start + ROWS] for rows in inputs)) for start in range(0, count, ROWS)])


def _groups(lengths: Sequence[int]) -> list[tuple[int, int, int]]:
    """Return (first token row, questions, length) for each run of equal lengths in the sorted `lengths`."""
    groups: list[tuple[int, int, int]] = []
    row = 0
    for length in lengths:
        if groups and groups[-1][2] == length:
            start, count, _ = groups[-1]
            groups[-1] = (start, count + 1, length)
        else:
            groups.append((row, 1, length))
        row += length
    return groups
