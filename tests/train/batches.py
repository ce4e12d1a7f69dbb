"""Small training batches on the tiny M3 checkpoint, built the way the trainer's collator does."""

from __future__ import annotations

from pathlib import Path

import torch

from m3search.encode.backends.torch import load_network
from m3search.encode.tokenizer import TextTokenizer
from m3search.train.collate import pad
from m3search.train.step import TrainBatch
from m3search.train.trainable import M3Trainable

QUERIES = ["Wie hoch ist der Everest?", "Longest river?", "珠穆朗玛峰有多高？", "Capital of Australia", "Nil Länge"]
GROUPS = [
    ["Der Mount Everest ist 8848 m hoch.", "Der Nil ist lang."],
    ["The Nile is the longest river in the world, 6650 km long.", "Everest is high."],
    ["珠穆朗玛峰海拔8848米。", "长江是中国最长的河流，流经许多省份。"],
    ["Canberra is the capital of Australia.", "Sydney is a large city on the coast of New South Wales."],
    ["Der Nil ist 6650 Kilometer lang und fließt durch elf Länder.", "Berlin"],
]
TEACHER = [[2.0, 0.1], [1.5, 0.5], [3.0, -1.0], [1.0, 0.2], [0.5, 0.4]]


def make_batch(path: Path, queries: slice = slice(None), teacher: bool = False) -> TrainBatch:
    tokenizer = TextTokenizer.load(path)
    q = QUERIES[queries]
    p = [text for group in GROUPS[queries] for text in group]
    q_ids, q_mask = pad(tokenizer.encode(q, max_length=32), tokenizer.pad_id)
    p_ids, p_mask = pad(tokenizer.encode(p, max_length=64), tokenizer.pad_id)
    scores = torch.tensor(TEACHER[queries]) if teacher else None
    return TrainBatch(q_ids, q_mask, p_ids, p_mask, group_size=2, teacher_scores=scores)


def make_model(path: Path, freeze_encoder: bool = False) -> M3Trainable:
    torch.manual_seed(0)
    network = load_network(path, dropout=0.0)
    tokenizer = TextTokenizer.load(path)
    return M3Trainable(network, pooling="cls", normalize=True, special_ids=tokenizer.special_ids.tolist(),
                       vocab_size=network.backbone_config.vocab_size, freeze_encoder=freeze_encoder).train()


def write_train_file(path, repeat: int):
    """Training groups of :data:`QUERIES` (positive, its hard negative, two other positives as
    negatives; sources alternating "a" and "b"), each written ``repeat`` times; returns ``path``."""
    from m3search.train.groups import TrainGroup, write_groups

    groups = []
    for i, (query, (pos, neg)) in enumerate(zip(QUERIES, GROUPS)):
        others = [g[0] for g in GROUPS if g[0] != pos]
        groups.append(TrainGroup(query, (pos,), (neg, *others[:2]), source="a" if i % 2 else "b"))
    write_groups(path, groups * repeat)
    return path
