"""Why a document matched (no torch): the shared sparse tokens with the largest weight products,
for multi-vector the document token each query token matched best, and for a document stored
as window vectors the window that gave its dense score."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..index import Document
from ..types import Embeddings, Explanation, TokenMatch

if TYPE_CHECKING:
    from ..index import Manifest
    from ..protocols import EncoderLike, Role

#: Tokens listed per explanation.
EXPLAIN_TOKENS = 8


def as_compared(queries: Embeddings, manifest: Manifest) -> Embeddings:
    """``queries`` as the engine compares them with an index's stored vectors: dense vectors and
    multi-vector rows rounded through the uint8 codes where the index stores those as uint8, so
    that an explanation names the window and the token pairs the engine's scores came from
    (near ties can turn on the rounding)."""
    from dataclasses import replace

    from ..index import codecs
    from ..types import Ragged

    layout = manifest.uint8_codec
    if queries.dense is not None and manifest.dense_storage == "uint8":
        queries = replace(queries, dense=codecs.rounded(queries.dense, codec=layout))
    if queries.colbert is not None and manifest.colbert_storage == "uint8" and len(queries.colbert.data):
        queries = replace(queries, colbert=Ragged(codecs.rounded(queries.colbert.data, codec=layout),
                                                  queries.colbert.offsets))
    return queries


def explain(encoder: EncoderLike, queries: Embeddings, i: int, query_text: str, doc: Document,
            limit: int = EXPLAIN_TOKENS) -> Explanation:
    """The explanation of query ``i`` (text ``query_text``) against a stored document
    (read with its vectors; ``queries`` as the engine compares them, :func:`as_compared`);
    ``encoder`` decodes token ids and tokenises the texts."""
    sparse: list[TokenMatch] = []
    if queries.sparse is not None and doc.sparse is not None:
        q = queries.sparse[i]
        shared, q_pos, d_pos = np.intersect1d(q.ids, doc.sparse.ids, return_indices=True)
        products = q.weights[q_pos] * doc.sparse.weights[d_pos]
        for j in np.argsort(-products)[:limit]:
            token = encoder.decode_token(int(shared[j]))
            sparse.append(TokenMatch(token, token, float(products[j])))
    colbert: list[TokenMatch] = []
    if queries.colbert is not None and doc.colbert is not None and doc.text is not None:
        q_tokens = _row_tokens(encoder, query_text, "query")
        d_tokens = _row_tokens(encoder, doc.text, "document")  # with windows: the whole text, across windows
        sims = queries.colbert[i] @ doc.colbert.T
        for qi, dj in enumerate(sims.argmax(axis=1)):
            if qi < len(q_tokens) and dj < len(d_tokens):
                colbert.append(TokenMatch(encoder.decode_token(q_tokens[qi]), encoder.decode_token(d_tokens[dj]),
                                          float(sims[qi, dj])))
    window = count = None
    if queries.dense is not None and doc.dense_windows is not None:
        window, count = int(np.argmax(doc.dense_windows @ queries.dense[i])), len(doc.dense_windows)
    return Explanation(tuple(sparse), tuple(colbert), window, count)


def _row_tokens(encoder: EncoderLike, text: str, role: Role) -> list[int]:
    """The token behind each multi-vector row of ``text``."""
    return list(encoder.row_tokens(text, role=role))
