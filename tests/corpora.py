"""Small synthetic corpora and index builders shared by the index and search tests."""

from __future__ import annotations

import random

from m3search.index import Index

WORDS = ["river", "mountain", "capital", "city", "water", "ocean", "desert", "forest", "bridge", "tower", "king", "queen", "music", "art", "science", "history", "war", "peace", "river", "delta", "island", "lake", "snow", "rain", "sun", "moon", "star", "planet"]


def make_corpus(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    langs = ["de", "en", "ru", "zh"]
    return [{"id": f"doc-{i}", "text": " ".join(rng.choices(WORDS, k=rng.randint(3, 12))), "lang": langs[i % 4]}
            for i in range(n)]


def make_queries(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(2, 5))) for _ in range(n)]


def build_index(target, encoder, corpus, **options) -> Index:
    index = Index.create(target, encoder.identity, **options)
    emb = encoder.encode([d["text"] for d in corpus], parts="all")
    index.add([d["id"] for d in corpus], emb, texts=[d["text"] for d in corpus],
              metadata=[{"lang": d["lang"]} for d in corpus])
    return index


QUERY_WORDS_SAMPLE = "river capital music"
