"""Synthetic unit vectors for the dense side, of three kinds.

- `latent` (default): articles are points of a 32-dimensional latent space, passages scatter around their
  article, and a fixed random projection plus 5% isotropic noise puts them on the 384-dimensional sphere.
  Embeddings of real text have a low intrinsic dimension, and this model's is if anything higher than
  real e5 passages' (the TwoNN estimates are in docs/decisions.md), so it is the harder case.
- `islands`: articles at random around random topics (cosines below); each article's passages form an
  island with nothing between islands. Graph and list indexes both lose recall on it as islands multiply.
- `uniform`: uniform on the sphere. In 384 dimensions every point is at cosine 0 ± 0.05 from every other:
  there are no neighbourhoods, and no approximate index finds the exact ten without scanning nearly all.
Sentences lie around their passage (cosine 0.8); a question lies around one article like its passages.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

KINDS = ("latent", "islands", "uniform")


def unit(rows: np.ndarray) -> np.ndarray:
    """Return the rows scaled to length 1, as float32."""
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)


def around(centres: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """Return one unit vector per centre at about `cosine` from it, in a random direction."""
    noise = unit(rng.standard_normal(centres.shape, dtype=np.float32))
    return unit(cosine * centres + np.sqrt(1.0 - cosine**2) * noise)


@lru_cache(maxsize=4)
def _projection(dimension: int, latent: int, seed: int) -> np.ndarray:
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dimension, latent)))
    return basis.astype(np.float32)


@dataclass(frozen=True)
class VectorModel:
    """How synthetic vectors are drawn."""

    kind: str = "latent"
    dimension: int = 384
    # latent
    latent_dimension: int = 32
    spread: float = 0.5  # a passage's or question's offset from its article, in latent standard deviations
    signal: float = 0.95  # cosine of a vector to its noiseless projection
    # islands
    articles_per_topic: int = 10
    article_to_topic: float = 0.5
    passage_to_article: float = 0.6
    # all
    sentence_to_passage: float = 0.8

    def _embed(self, latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        projected = unit(latent @ _projection(self.dimension, self.latent_dimension, 0).T)
        return around(projected, self.signal, rng)

    def articles(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Return `count` article centres: latent points, unit vectors (islands) or nothing (uniform)."""
        if self.kind == "latent":
            return rng.standard_normal((count, self.latent_dimension), dtype=np.float32)
        if self.kind == "islands":
            topics = unit(rng.standard_normal((max(1, count // self.articles_per_topic), self.dimension), dtype=np.float32))
            return around(topics[rng.integers(0, len(topics), count)], self.article_to_topic, rng)
        return np.zeros((count, 0), dtype=np.float32)

    def _near(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "latent":
            return self._embed(centres + self.spread * rng.standard_normal(centres.shape, dtype=np.float32), rng)
        if self.kind == "islands":
            return around(centres, self.passage_to_article, rng)
        return unit(rng.standard_normal((len(centres), self.dimension), dtype=np.float32))

    def passages(self, article_of_passage: np.ndarray, articles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return one unit passage vector per entry of `article_of_passage` (an article row each)."""
        return self._near(articles[article_of_passage], rng)

    def sentences(self, passage_of_sentence: np.ndarray, passages: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return one unit sentence vector per entry of `passage_of_sentence` (a row of `passages` each)."""
        if self.kind == "uniform":
            return unit(rng.standard_normal((len(passage_of_sentence), self.dimension), dtype=np.float32))
        return around(passages[passage_of_sentence], self.sentence_to_passage, rng)

    def queries(self, count: int, articles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return `count` unit question vectors, each about a random article."""
        return self._near(articles[rng.integers(0, len(articles), count)], rng)
