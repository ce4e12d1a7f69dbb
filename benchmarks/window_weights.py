"""Fusion weights for windowed long documents: which (dense, sparse, multi-vector) weights make
``all`` best on long-es when every document is encoded in windows.

long-es asks 732 SQuAD-es questions, in each of 12 languages, against 48 whole Spanish Wikipedia
articles (~9,000 tokens each). With ``long_strategy="windows"`` and ``window_dense="best"`` a
document's dense score is its best window's, its lexical weights the maximum over windows, its
multi-vector rows every window's. This scores every query against every document exactly, once per mode, then fuses
with each weight setting of a grid: nothing is re-encoded and no first stage is involved, so the
grid measures the weights alone. Weights are chosen on half the questions (those whose id
hashes even; a question keeps its side in every language) and reported on the other half and on
all, so the choice is not fitted to the numbers it is judged by. Prints a table, writes JSON::

    .venv/bin/python benchmarks/window_weights.py --publish
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
#: The grid: the dense weight stays 1 (only ratios matter).
SPARSE_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3)
COLBERT_WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def half(query_id: str) -> str:
    """``"choose"`` or ``"report"``: a fixed split of the questions by a hash of their id."""
    return "choose" if int(hashlib.sha256(query_id.encode()).hexdigest(), 16) % 2 == 0 else "report"


def mode_scores(encoder, data_dir: Path, cache: Path) -> list[tuple[str, list[str], list[str], dict, dict]]:
    """Per subset: (name, query ids, doc ids, qrels, {mode: (queries, docs) exact scores})."""
    from tqdm import tqdm

    from m3search.eval.beir import read_beir
    from m3search.eval.runner import cached_encode, file_hash
    from m3search.eval.suites import build_suite
    from m3search.scoring import colbert_scores, sparse_scores

    parts = ("dense", "sparse", "colbert")
    out = []
    documents = None
    for subset in tqdm(build_suite("long-es", data_dir, cache / "suites"), desc="long-es", unit="subset"):
        data = read_beir(subset.path)
        doc_ids = [d.id for d in data.corpus]
        if documents is None:  # every subset searches the same 48 articles
            documents = cached_encode(encoder, [d.text for d in data.corpus], "document", parts, cache,
                                      file_hash(subset.path / "corpus.jsonl"), doc_ids)
        queries = [q for q in data.queries if q.id in data.qrels]
        emb = cached_encode(encoder, [q.text for q in queries], "query", parts, cache,
                            file_hash(subset.path / "queries.jsonl"), [q.id for q in queries])
        scores = {"dense": best_window_scores(emb.dense, documents),
                  "sparse": sparse_scores(emb.need_sparse(), documents.need_sparse()),
                  "colbert": colbert_scores(emb.need_colbert(), documents.need_colbert())}
        out.append((subset.name, [q.id for q in queries], doc_ids, data.qrels, scores))
    return out


def best_window_scores(queries: np.ndarray, documents) -> np.ndarray:
    """Each document's dense score as its best window's, as an index built with
    ``window_dense="best"`` scores it (MaxSim of the one query vector over the window vectors)."""
    from m3search.scoring import colbert_scores
    from m3search.types import Ragged

    return colbert_scores(Ragged.from_arrays([q[None] for q in queries]), documents.dense_windows)


def ndcg(subsets, weights: dict[str, float], side: str | None) -> float:
    """nDCG@10 averaged over subsets, of the questions on ``side`` (all with ``None``)."""
    from m3search.eval.metrics import evaluate
    from m3search.scoring import combine

    values = []
    for _, query_ids, doc_ids, qrels, scores in subsets:
        chosen = {m: s for m, s in scores.items() if weights.get(m, 0) > 0}
        fused = combine(chosen, {m: weights[m] for m in chosen})
        rows = [i for i, q in enumerate(query_ids) if side is None or half(q) == side]
        run = {}
        for i in rows:
            top = np.argsort(-fused[i], kind="stable")[:10]
            run[query_ids[i]] = {doc_ids[j]: float(fused[i, j]) for j in top}
        values.append(evaluate(run, {query_ids[i]: qrels[query_ids[i]] for i in rows}, ["nDCG@10"]).aggregate["nDCG@10"])
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "window_weights.json")
    add_publish_option(parser, "window-weights")
    args = parser.parse_args()
    from m3search.encode import Encoder
    from m3search.encode.checkpoints.cache import cache_dir

    encoder = Encoder.load("multilingual-e5-small", long_strategy="windows", window_stride=448, window_dense="best")
    subsets = mode_scores(encoder, args.data, cache_dir())
    singles = [{"dense": 1.0}, {"sparse": 1.0}, {"colbert": 1.0}]
    grid = [{"dense": 1.0, "sparse": s, "colbert": c} for s, c in itertools.product(SPARSE_WEIGHTS, COLBERT_WEIGHTS)]
    rows = []
    for weights in singles + grid:
        row = {"weights": weights, **{side or "all": ndcg(subsets, weights, side) for side in ("choose", "report", None)}}
        rows.append(row)
        print(f"{json.dumps(weights):<48} choose {row['choose']:.4f}  report {row['report']:.4f}  all {row['all']:.4f}",
              flush=True)
    best = max((r for r in rows if len(r["weights"]) == 3), key=lambda r: r["choose"])
    print(f"chosen on half the questions: {best['weights']} (report half {best['report']:.4f}, all {best['all']:.4f})")
    result = {"benchmark": "window_weights", "model": "multilingual-e5-small", "suite": "long-es",
              "encoder": {"long_strategy": "windows", "window_stride": 448, "window_dense": "best"},
              "metric": "nDCG@10", "subsets": [s[0] for s in subsets], "rows": rows, "chosen": best["weights"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    publish(result, args.publish)


if __name__ == "__main__":
    main()
