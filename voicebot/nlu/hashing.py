"""Hashed character n-grams, the same matrix as scikit-learn's ``HashingVectorizer(analyzer=
"char_wb"|"char", alternate_sign=False, norm="l2")`` (MurmurHash3 x86 32-bit, seed 0), without
importing scikit-learn: its import pulls scipy.stats and costs ~0.65 s of every process start,
while the call path only needs the hashing. tests/test_bench_coldstart.py checks the two agree
on every training phrase, so models trained either way score identically."""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from murmurhash.mrmr import hash as murmur32  # signed MurmurHash3_x86_32 of the UTF-8 bytes

_WHITE_SPACES = re.compile(r"\s\s+")
_INT32_MIN = -2147483648


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """sklearn's "char_wb": n-grams inside words padded with one space each side."""
    low, high = ngram_range
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        word = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(word[offset:offset + n])
            while offset + n < len(word):
                offset += 1
                grams.append(word[offset:offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return grams


def char_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """sklearn's "char": n-grams running across word boundaries."""
    text = _WHITE_SPACES.sub(" ", text)
    low, high = ngram_range
    grams = list(text) if low == 1 else []  # unigrams, then longer n-grams from 2 up
    for n in range(max(low, 2), min(high + 1, len(text) + 1)):
        grams.extend(text[i:i + n] for i in range(len(text) - n + 1))
    return grams


def _index(gram: str, n_features: int) -> int:
    h = murmur32(gram)
    return (2147483647 - (n_features - 1)) % n_features if h == _INT32_MIN else abs(h) % n_features


def hashed_counts(texts: list[str], *, analyzer: str, ngram_range: tuple[int, int], n_features: int,
                  lowercase: bool = True) -> sp.csr_matrix:
    """Rows of L2-normalised n-gram counts hashed into `n_features` columns."""
    split = char_wb_ngrams if analyzer == "char_wb" else char_ngrams
    indptr, indices = [0], []
    for text in texts:
        indices.extend(_index(g, n_features) for g in split(text.lower() if lowercase else text, ngram_range))
        indptr.append(len(indices))
    matrix = sp.csr_matrix((np.ones(len(indices)), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
                           shape=(len(texts), n_features), dtype=np.float64)
    matrix.sum_duplicates()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)
