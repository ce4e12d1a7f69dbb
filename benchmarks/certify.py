"""Certified compression: what each storage setting keeps of uncompressed `all`, what it costs.

For every setting (multi-vector head width, token pooling, multi-vector storage, the engine's
quantisation, an FDE first stage and its candidate depth), ``m3search eval``'s machinery runs
the real suites through a temporary index built with exactly these settings
(:func:`m3search.eval.runner.run_suite` with ``index_options``): nDCG@10 per suite (mAP@20 on
LAReQA) of `all` (and `colbert`), the paired randomisation p-value of `all` against the
uncompressed `all` of the shipped model (float32 multi-vectors scored exactly), the bytes per
document of an index of the 2,880 real XQuAD paragraphs on disk (allocated blocks, after
optimisation) and the latency of `all` over that index (the engine rescoring the stored rows).
Prints a table, writes JSON::

    .venv/bin/python benchmarks/certify.py --publish
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from publish import add_publish_option, publish  # benchmarks/publish.py

ROOT = Path(__file__).resolve().parents[1]
XQUAD_LANGS = ["ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
#: the 23 xquad-cross pairs with English on one side
XCROSS_EN = sorted({f"en-{x}" for x in [*XQUAD_LANGS, "en"]}) + [f"{x}-en" for x in XQUAD_LANGS]
SUITES = {"native-qa": None, "xquad-mono": None, "xquad-cross": XCROSS_EN, "lareqa": None}
FDE_1024 = {"k_sim": 4, "dim_proj": 8, "reps": 8}
FDE_512 = {"k_sim": 3, "dim_proj": 8, "reps": 8}


@dataclass(frozen=True)
class Setting:
    """One row of the table: the model (and multi-vector width) and the index options."""

    model: str = "multilingual-e5-small"
    colbert_dim: int | None = None
    options: dict[str, Any] | None = None  # IndexOptions fields; None: the uncompressed reference
    preset: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


COMPACT = "multilingual-e5-small-compact"
#: the compact preset's settings until it dropped its FDE first stage (``compact fde512``), as plain options
COMPACT_FDE: dict[str, Any] = {
    "colbert_storage": "uint8", "dense_storage": "float16", "compression": {"colbert_pool_factor": 2},
    "fde": {**FDE_512, "storage": "float16"}, "hnsw": {"m": 32, "ef_construct": 200}}
SETTINGS: dict[str, Setting] = {
    "uncompressed": Setting(),
    "384 pool2 uint8": Setting(options={"colbert_storage": "uint8", "compression": {"colbert_pool_factor": 2}}),
    "128 float16": Setting(COMPACT, 128, {"colbert_storage": "float16"}),
    "128 uint8": Setting(COMPACT, 128, {"colbert_storage": "uint8"}),
    "128 pool2 uint8": Setting(COMPACT, 128, {"colbert_storage": "uint8", "compression": {"colbert_pool_factor": 2}}),
    "128 pool2 uint8 fde1024": Setting(COMPACT, 128, {
        "colbert_storage": "uint8", "compression": {"colbert_pool_factor": 2},
        "fde": FDE_1024, "quantization": {"vectors": {"colbert_fde": "int8"}}}),
    "128 pool3 uint8": Setting(COMPACT, 128, {"colbert_storage": "uint8", "compression": {"colbert_pool_factor": 3}}),
    "128 pool3 uint8 fde512": Setting(COMPACT, 128, {
        "colbert_storage": "uint8", "compression": {"colbert_pool_factor": 3}, "fde": FDE_512}),
    "64 uint8": Setting(COMPACT, 64, {"colbert_storage": "uint8"}),
    "64 pool2 uint8": Setting(COMPACT, 64, {"colbert_storage": "uint8", "compression": {"colbert_pool_factor": 2}}),
    "compact": Setting(COMPACT, 128, {}, preset="compact"),
    "compact dense16": Setting(COMPACT, 128, {"dense_storage": "float16"}, preset="compact"),
    "compact fde512": Setting(COMPACT, 128, COMPACT_FDE),
    "compact fde512 dense8": Setting(COMPACT, 128, {**COMPACT_FDE, "dense_storage": "uint8"}),
    "128 pool2 uint8 dense8": Setting(COMPACT, 128, {
        "colbert_storage": "uint8", "dense_storage": "uint8", "compression": {"colbert_pool_factor": 2}}),
    "128 pool2 uint8 dense16 top64": Setting(COMPACT, 128, {
        "colbert_storage": "uint8", "dense_storage": "float16",
        "compression": {"colbert_pool_factor": 2, "sparse_top_k": 64}}),
    "128 pool2 uint8 dense16": Setting(COMPACT, 128, {
        "colbert_storage": "uint8", "dense_storage": "float16", "compression": {"colbert_pool_factor": 2}}),
    "128 pool2 uint8 dense16 top48": Setting(COMPACT, 128, {
        "colbert_storage": "uint8", "dense_storage": "float16",
        "compression": {"colbert_pool_factor": 2, "sparse_top_k": 48}}),
    "64 pool2 uint8 dense16": Setting(COMPACT, 64, {
        "colbert_storage": "uint8", "dense_storage": "float16", "compression": {"colbert_pool_factor": 2}}),
    # with the documents' sparse weights pruned
    "compact fde512 top64": Setting(COMPACT, 128, {**COMPACT_FDE, "compression": {"colbert_pool_factor": 2, "sparse_top_k": 64}}),
    "compact fde512 top48": Setting(COMPACT, 128, {**COMPACT_FDE, "compression": {"colbert_pool_factor": 2, "sparse_top_k": 48}}),
    "compact fde512 top64 dense8": Setting(COMPACT, 128, {
        **COMPACT_FDE, "dense_storage": "uint8", "compression": {"colbert_pool_factor": 2, "sparse_top_k": 64}}),
    "compact fde512 top48 dense8": Setting(COMPACT, 128, {
        **COMPACT_FDE, "dense_storage": "uint8", "compression": {"colbert_pool_factor": 2, "sparse_top_k": 48}}),
    "compact fde512 top32 dense8": Setting(COMPACT, 128, {
        **COMPACT_FDE, "dense_storage": "uint8", "compression": {"colbert_pool_factor": 2, "sparse_top_k": 32}}),
}


def describe(setting: Setting) -> dict[str, Any]:
    """What a row measured: the model, its multi-vector width, and the index options (or the preset and what it fills)."""
    options = index_options(setting)
    stored = None if options is None else {
        "preset": options.preset, "colbert_storage": options.colbert_storage or "float16",
        "dense_storage": options.dense_storage or "float32",
        "compression": options.reductions, "fde": options.fde, "quantization": options.quantization,
        "hnsw": options.hnsw, "colbert_search": options.colbert_search}
    return {"model": setting.model, "colbert_dim": setting.colbert_dim, "index": stored}


def index_options(setting: Setting):
    from m3search.index import IndexOptions

    if setting.options is None:
        return None
    if setting.preset:  # the preset, with the options given beside it taking precedence
        return IndexOptions(compression=setting.preset, **setting.options)
    return IndexOptions(**setting.options)


def load_encoder(setting: Setting, cache: dict):
    from m3search.encode import Encoder

    key = (setting.model, setting.colbert_dim)
    if key not in cache:
        cache[key] = Encoder.load(setting.model, colbert_dim=setting.colbert_dim)
    return cache[key]


def quality(name: str, setting: Setting, encoder, args, reference: dict) -> list[dict]:
    """nDCG@10 (mAP@20) of `all` and `colbert` per suite, p-value of `all` against the reference."""
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval.metrics import paired_randomization
    from m3search.eval.runner import run_suite

    rows = []
    for suite in args.suites:
        modes = ["colbert", "all"] if suite in ("native-qa", "xquad-mono") else ["all"]
        start = time.perf_counter()
        result = run_suite(suite, encoder, data_dir=args.data, cache=cache_dir(), modes=modes, subsets=SUITES[suite],
                           index_options=index_options(setting))
        metric = result.metrics[0]
        row: dict[str, Any] = {"setting": name, "suite": suite, "metric": metric,
                               "seconds": round(time.perf_counter() - start, 1)}
        options = index_options(setting)
        if options is not None and options.colbert_by_candidates:
            # colbert's candidates: Searcher's default stages, every first stage the index holds
            row["colbert_candidates"] = "FDE + dense + sparse, 100" if options.fde is not None else "dense + sparse, 100"
        for mode in modes:
            row[mode] = float(np.mean([m[metric] for m in result.scores[mode].values()]))
        per_query = result.per_query["all"][metric]
        if name == "uncompressed":
            reference[suite] = per_query
            save_reference(args, reference)
        elif suite in reference:
            row["all_diff"], row["p_value"] = paired_randomization(per_query, reference[suite])
        rows.append(row)
        print(f"{name:<26} {suite:<11} " + "  ".join(f"{m} {row[m]:.4f}" for m in modes)
              + (f"  diff {row['all_diff']:+.4f} p {row['p_value']:.4f}" if "p_value" in row else ""), flush=True)
    return rows


def reference_path(args) -> Path:
    """Where the reference's per-query values are kept between runs (not committed: they are
    remade by running ``uncompressed``), keyed by the suites' data."""
    from m3search.eval.runner import file_hash

    key = file_hash(args.data / "MANIFEST.tsv") if (args.data / "MANIFEST.tsv").exists() else "data"
    return args.out.parent / f"certify-reference-{key}.json"


def save_reference(args, reference: dict) -> None:
    path = reference_path(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reference))


def load_reference(args) -> dict:
    """The uncompressed reference's per-query values of an earlier run (empty: none kept)."""
    path = reference_path(args)
    return json.loads(path.read_text()) if path.exists() else {}


def merged(result: dict, names: list[str], path: Path, *, quality_run: bool = True, cost_run: bool = True) -> dict:
    """``result`` with the published rows of the settings this run did not measure (``--merge``);
    a run with ``--skip-quality`` (``--skip-cost``) keeps the published quality (cost) rows of
    the settings it ran too."""
    if not path.exists():
        return result
    old = json.loads(path.read_text())
    keep = [n for n in old.get("settings", {}) if n not in names]
    command = old.get("command")

    def kept(rows: list[dict], measured: bool) -> list[dict]:
        return [{"command": command, **r} if "command" not in r else r for r in rows
                if r["setting"] in keep or (not measured and r["setting"] in names)]

    quality, cost = kept(old["quality"], quality_run), kept(old["cost"], cost_run)
    order = list(dict.fromkeys([*old.get("settings", {}), *names]))  # the published order, new settings last
    settings = {**{n: old["settings"][n] for n in keep}, **result["settings"]}

    def ordered(rows: list[dict]) -> list[dict]:
        return sorted(rows, key=lambda r: order.index(r["setting"]))

    return {**result, "quality": ordered(quality + result["quality"]), "cost": ordered(cost + result["cost"]),
            "settings": {n: settings[n] for n in order if n in settings}}


def xquad_embeddings(encoder, args):
    """The 2,880 XQuAD paragraphs and (up to ``--queries``) questions, encoded (cached)."""
    from m3search.encode.checkpoints.cache import cache_dir
    from m3search.eval.beir import read_beir
    from m3search.eval.runner import cached_encode, file_hash
    from m3search.eval.suites import build_suite
    from m3search.types import Embeddings, Ragged, SparseBatch

    docs, queries, ids = [], [], []
    parts = ("dense", "sparse", "colbert")
    for subset in build_suite("xquad-mono", args.data, cache_dir() / "suites"):
        data = read_beir(subset.path)
        docs.append(cached_encode(encoder, [d.text for d in data.corpus], "document", parts, cache_dir(),
                                  file_hash(subset.path / "corpus.jsonl"), [d.id for d in data.corpus]))
        queries.append(cached_encode(encoder, [q.text for q in data.queries], "query", parts, cache_dir(),
                                     file_hash(subset.path / "queries.jsonl"), [q.id for q in data.queries]))
        ids += [f"{subset.name}/{d.id}" for d in data.corpus]

    def concat(batches: list, limit: int | None = None) -> Embeddings:
        dense = np.concatenate([b.dense for b in batches])
        sparse = [v for b in batches for v in b.sparse]
        colbert = [m for b in batches for m in b.colbert]
        pick = np.random.default_rng(0).permutation(len(dense))[:limit] if limit else np.arange(len(dense))
        return Embeddings(dense=dense[pick], sparse=SparseBatch.from_vectors([sparse[i] for i in pick]),
                          colbert=Ragged.from_arrays([colbert[i] for i in pick]))

    return ids, concat(docs), concat(queries, args.queries)


def bytes_by_vector(root: Path) -> dict[str, int]:
    """Allocated bytes of an index directory by named vector (its stored vectors and its index:
    the HNSW graph, the sparse inverted index), the rest as ``other`` (ids, payloads, the manifest)."""
    totals: dict[str, int] = {}
    for f in root.rglob("*"):
        if f.is_file():
            folder = next((p for p in f.parts if p.startswith(("vector_storage-", "vector_index-"))), None)
            key = folder.split("-", 1)[1] if folder else "other"
            totals[key] = totals.get(key, 0) + f.stat().st_blocks * 512
    return dict(sorted(totals.items()))


def built(path: Path, setting: Setting, encoder, ids: list[str], docs) -> tuple[int, dict[str, int]]:
    """The allocated bytes of an index of ``docs`` built with the setting, in total and by named
    vector. Every searched vector gets its HNSW graph, as in an index too large to scan
    (``ShardSettings(full_scan_threshold_kb=1)``), so the graph's bytes count as they will at scale."""
    from m3search.index import Index, IndexOptions, ShardSettings

    options = IndexOptions.of(index_options(setting), settings=ShardSettings(full_scan_threshold_kb=1))
    index = Index.create(path, encoder.identity, options=options)
    index.add(ids, docs, batch_size=256, show_progress=False)
    index.optimize()
    index.close()  # measured closed: an open shard may still hold the segments optimisation replaced
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()), bytes_by_vector(path)


def cost(name: str, setting: Setting, encoder, args) -> dict:
    """Bytes per XQuAD paragraph on disk and the latency of `all` (and `colbert`) over that index.

    Two sizes are built, a random half of the paragraphs and all of them: ``bytes_per_doc`` is
    the whole index's bytes per paragraph, ``bytes_per_added_doc`` what each paragraph of the
    second half added (the cost per document of a large index, without what an index holds
    whatever its size: the sparse index's vocabulary map, configuration files, partly filled
    blocks)."""
    from m3search.index import Index
    from m3search.search import Searcher

    ids, docs, queries = xquad_embeddings(encoder, args)
    half = np.sort(np.random.default_rng(0).permutation(len(ids))[: len(ids) // 2])
    work = Path(tempfile.mkdtemp(prefix="m3search-certify-"))
    try:
        small, small_parts = built(work / "half", setting, encoder, [ids[i] for i in half], docs.take(half.tolist()))
        allocated, parts = built(work / "idx", setting, encoder, ids, docs)
        added = len(ids) - len(half)
        index = Index.open(work / "idx")
        searcher = Searcher(None, index)
        row: dict[str, Any] = {
            "setting": name, "documents": len(ids), "bytes_per_doc": allocated / len(ids),
            "bytes_per_added_doc": (allocated - small) / added,
            "manifest": {k: v for k, v in index.manifest.extra.items()},
            "colbert_storage": index.manifest.colbert_storage, "dense_storage": index.manifest.dense_storage,
            "bytes_per_doc_by_vector": {k: v / len(ids) for k, v in parts.items()},
            "bytes_per_added_doc_by_vector": {k: (v - small_parts.get(k, 0)) / added for k, v in parts.items()}}
        for mode in ("all", "colbert") if index.manifest.colbert_search == "candidates" else ("all",):
            latencies = []
            for i in range(len(queries)):
                one = queries.take([i])
                start = time.perf_counter()
                searcher.search_embeddings(one, 10, mode=mode, fetch_documents=False)
                latencies.append((time.perf_counter() - start) * 1000)
            row[f"{mode}_p50_ms"] = statistics.median(latencies)
            row[f"{mode}_p95_ms"] = float(np.percentile(latencies, 95))
        index.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{name:<26} {row['bytes_per_doc'] / 1024:7.1f} KB/doc ({row['bytes_per_added_doc'] / 1024:.1f} KB per added "
          f"doc)  all p50 {row['all_p50_ms']:.1f} ms", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, of {list(SETTINGS)}")
    parser.add_argument("--suites", default=",".join(SUITES))
    parser.add_argument("--queries", type=int, default=200, help="queries timed per setting")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--merge", action="store_true",
                        help="keep the published rows of the settings not run (the reference is read from the last "
                             "run of uncompressed on this machine, else run again)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "certify.json")
    add_publish_option(parser, "certified-compression")
    args = parser.parse_args()
    args.suites = [s for s in args.suites.split(",") if s]
    names = [s for s in args.settings.split(",") if s]
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        parser.error(f"unknown setting(s) {unknown}; known: {list(SETTINGS)}")
    reference: dict = load_reference(args) if args.merge else {}
    if not args.skip_quality and "uncompressed" not in names and set(args.suites) - set(reference):
        names.insert(0, "uncompressed")  # the reference of every p-value
    encoders: dict = {}
    quality_rows, cost_rows = [], []
    for name in names:
        encoder = load_encoder(SETTINGS[name], encoders)
        if not args.skip_cost:
            cost_rows.append(cost(name, SETTINGS[name], encoder, args))
        if not args.skip_quality:
            quality_rows += quality(name, SETTINGS[name], encoder, args, reference)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {"benchmark": "certified-compression", "machine": "2 CPU cores", "quality": quality_rows,
                  "cost": cost_rows, "settings": {n: describe(SETTINGS[n]) for n in names}}
        if args.merge:
            from publish import DOCS_DATA, command_line

            for row in quality_rows + cost_rows:
                row.setdefault("command", command_line(sys.argv))
            result = merged(result, names, DOCS_DATA / f"{args.publish or 'certified-compression'}.json",
                            quality_run=not args.skip_quality, cost_run=not args.skip_cost)
        # after each setting: a long run that is stopped keeps (and publishes) what it measured
        args.out.write_text(json.dumps(result, indent=2))
        publish(result, args.publish)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
