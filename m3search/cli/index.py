"""``m3search index``: encode a JSONL corpus into an index (created, or extended by id)."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..index.manifest import COLBERT_STORAGE, DENSE_STORAGE
from ..index.options import IndexOptions
from ..index.presets import PRESETS, preset
from .common import add_model_args, add_text_args, add_wait_arg, parts_arg, positive

if TYPE_CHECKING:
    from ..encode import Encoder


PRESET_HELP = (f"a preset ({', '.join(sorted(PRESETS))}) of the settings below, chosen by the certified compression "
               "table: compact (a 128-wide compact head, pool 2, uint8 rows and dense vectors, HNSW graphs of 32 links "
               "built with a beam of 200, colbert by the dense and sparse candidates; without --model it "
               "loads multilingual-e5-small-compact); a flag given beside it takes precedence")


def register(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="encode a JSONL corpus into an index (created, or extended by id)")
    index.add_argument("input", help="JSONL with one {\"id\": ..., \"text\": ...} per line; other fields become metadata; "
                                      "or 'export' (--index SRC --to DST) / 'import' (--from SRC --index DST) to copy an "
                                      "index between a directory and a Qdrant server (./export for a file of that name)")
    index.add_argument("--index", required=True, help="index directory, or a Qdrant collection URL http(s)://host:port/collection "
                       "(API key from $QDRANT_API_KEY)")
    index.add_argument("--parts", default=None,
                       help="parts to store in a new index (default: all the model produces); an existing index keeps its own")
    index.add_argument("--colbert-storage", choices=COLBERT_STORAGE, default=None,
                       help="multi-vector storage of a new index: float16 (default), float32, or uint8 (half the size, "
                            "scores within ~1e-3); an existing index keeps its own")
    index.add_argument("--dense-storage", choices=DENSE_STORAGE, default=None,
                       help="dense vector storage of a new index: float32 (default), float16 (half the bytes) or "
                            "uint8 (a quarter, scores within ~0.7e-3 on average); an existing index keeps its own")
    reduce = index.add_argument_group("smaller documents in a new index (an existing index keeps its own)")
    reduce.add_argument("--compression", default=None, metavar="PRESET", help=PRESET_HELP)
    reduce.add_argument("--colbert-pool-factor", type=int, default=None,
                        help="cluster each document's multi-vector rows into rows/N (hierarchical token pooling)")
    reduce.add_argument("--sparse-top-k", type=int, default=None, help="keep each document's K heaviest lexical weights")
    reduce.add_argument("--sparse-min-weight", type=float, default=None, help="drop lexical weights below W")
    _add_first_stage_args(index)
    quantize = index.add_argument_group("the engine's quantisation in a new index (originals kept beside it)")
    quantize.add_argument("--quantize", default=None, metavar="NAME=METHOD,...",
                          help="quantise vectors: dense, colbert, colbert_fde = int8, binary, turbo1, turbo2, turbo4 "
                               "or turbo8 (e.g. dense=int8,colbert=int8)")
    quantize.add_argument("--oversampling", type=float, default=None,
                          help="candidates read from the quantised copy per hit wanted (default 2)")
    quantize.add_argument("--no-rescore", action="store_true",
                          help="score with the quantised copy only (faster, approximate scores; not with binary)")
    index.add_argument("--no-optimize", action="store_true",
                       help="leave segment merging and the HNSW graphs to later (by default built once all "
                            "documents are in: searches before that scan every document)")
    index.add_argument("--batch-size", type=int, default=64)
    index.add_argument("--to", default=None, help="with 'export': the new index (directory or Qdrant URL)")
    index.add_argument("--from", dest="source", default=None, help="with 'import': the index to copy (directory or Qdrant URL)")
    cluster = index.add_argument_group("a new collection on a Qdrant server (--index http://...); --on-disk also for a directory")
    cluster.add_argument("--shards", type=int, default=None, help="shard_number")
    cluster.add_argument("--replicas", type=int, default=None, help="replication_factor")
    cluster.add_argument("--write-consistency", type=int, default=None, help="write_consistency_factor")
    cluster.add_argument("--on-disk", action="store_true",
                         help="vectors, sparse index and payload on disk, memory-mapped and read on first use rather "
                              "than warmed into RAM: for an index larger than memory")
    cluster.add_argument("--max-segment-mb", type=int, default=None, metavar="MB",
                         help="a new index directory: the largest segment the engine's optimiser builds (bounds the "
                              "free disk the final optimisation needs, about one segment instead of the whole index)")
    cluster.add_argument("--payload-index", action="append", default=[], metavar="FIELD:TYPE",
                         help="index a metadata field used in filters (TYPE: keyword, integer, float, bool, datetime, "
                              "text, uuid); repeatable")
    ray = index.add_argument_group("Ray (pip install \"m3search[ray]\")")
    ray.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                     help="encode on a Ray cluster: an address (auto, ray://host:10001) or, alone, a local one")
    ray.add_argument("--ray-actors", type=int, default=1, help="encoding actors, one model each (default: 1)")
    ray.add_argument("--ray-gpus-per-actor", type=float, default=0, help="GPUs per actor (1 on GPU nodes)")
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_text_args(index)
    add_wait_arg(index)
    add_model_args(index, recorded=True)
    index.set_defaults(func=run)


def _add_first_stage_args(index: argparse.ArgumentParser) -> None:
    """The multi-vector first stage and the HNSW graphs of a new index."""
    first = index.add_argument_group("a multi-vector first stage in a new index (MUVERA encodings under HNSW)")
    first.add_argument("--fde", default=None, metavar="K_SIM,DIM_PROJ,REPS",
                       help="store each document's multi-vector rows as one fixed-dimensional encoding of "
                            "REPS x 2^K_SIM x DIM_PROJ numbers that colbert and all search through, e.g. 4,8,8")
    first.add_argument("--fde-storage", choices=("float16", "float32"), default=None, help="its datatype (float16)")
    first.add_argument("--hnsw", default=None, metavar="M,EF_CONSTRUCT",
                       help="the HNSW graphs of the searched vectors (dense, the FDE): links per node and the build's "
                            "beam width (the engine's defaults: 16,100; more finds more neighbours, builds slower)")
    first.add_argument("--colbert-search", choices=("candidates", "scan"), default=None,
                       help="how colbert searches the index by default: the candidates of every first stage it "
                            "holds, rescored exactly, or a scan of every document's rows (default: candidates "
                            "with --fde or the compact preset, else a scan)")


def run(args: argparse.Namespace) -> int:
    from ..index import index_records
    from ..io.jsonl import read_jsonl

    if args.input in ("export", "import"):
        return transfer(args)
    positive("--batch-size", args.batch_size)
    records = list(read_jsonl(args.input, clean=not args.raw_text))  # every line checked before anything is written
    options = index_options(args)
    recorded = recorded_identity(args)
    if options.preset and recorded is None:
        args = preset_model(args, options.preset)
    encoder = encoder_for(args, recorded)
    if args.ray is not None:
        from ..scale.ray_encode import index_records_ray

        positive("--ray-actors", args.ray_actors)
        quiet = argparse.Namespace(**{**vars(args), "func": None, "quiet": True})
        loader = functools.partial(encoder_for, quiet, recorded, check=False)
        built = index_records_ray(
            loader, records, args.index, actors=args.ray_actors, gpus_per_actor=args.ray_gpus_per_actor,
            address=None if args.ray == "local" else args.ray, batch_size=args.batch_size, show_progress=not args.quiet,
            wait=args.wait, encoder=encoder, options=options)
    else:
        built = index_records(encoder, records, args.index, batch_size=args.batch_size, show_progress=not args.quiet,
                              wait=args.wait, options=options)
    with built as index:
        if not args.no_optimize:
            index.optimize()
        print(f"{args.index}: {index.count()} documents ({', '.join(index.parts)})", file=sys.stderr)
    return 0


def index_options(args: argparse.Namespace) -> IndexOptions:
    """What the flags say a new index stores (``--parts``, ``--colbert-storage``, the reductions,
    the layout), checked before any model loads."""
    parts = None if args.parts in (None, "all") else parts_arg(args.parts)
    options = IndexOptions(parts=parts, colbert_storage=args.colbert_storage,
                           dense_storage=args.dense_storage, fde=fde_options(args),
                           quantization=quantization_options(args), compression=args.compression,
                           settings=cluster_settings(args, args.index), hnsw=hnsw_options(args),
                           colbert_search=args.colbert_search)
    reductions = compression_options(args)
    if reductions:  # beside a preset, the flags given take precedence over its reductions
        options = IndexOptions.of(options, compression={**options.reductions, **reductions})
    return options


def preset_model(args: argparse.Namespace, name: str) -> argparse.Namespace:
    """The model options a new index built with the preset ``name`` loads: its compact model when
    no ``--model`` is given, and its width when ``--colbert-dim`` is not."""
    chosen = preset(name)
    model = args.model or chosen.default_model
    width = args.colbert_dim or (chosen.max_colbert_dim if model == chosen.default_model else None)
    return argparse.Namespace(**{**vars(args), "model": model, "colbert_dim": width})


def quantization_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--quantize NAME=METHOD,...`` (with ``--oversampling``, ``--no-rescore``) as the index option."""
    if args.quantize is None:
        for flag, given in (("--oversampling", args.oversampling is not None), ("--no-rescore", args.no_rescore)):
            if given:
                raise ConfigurationError(f"{flag} needs --quantize NAME=METHOD")
        return None
    vectors = {}
    for item in args.quantize.split(","):
        name, sep, method = item.partition("=")
        if not sep or not name.strip() or not method.strip():
            raise ConfigurationError(f"--quantize takes NAME=METHOD pairs (e.g. dense=int8,colbert=int8), got {item!r}")
        vectors[name.strip()] = method.strip()
    settings: dict[str, Any] = {"vectors": vectors, "rescore": not args.no_rescore}
    if args.oversampling is not None:
        settings["oversampling"] = args.oversampling
    return settings


def fde_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--fde K_SIM,DIM_PROJ,REPS`` (and ``--fde-storage``) as the index option, or ``None``."""
    if args.fde is None:
        if args.fde_storage is not None:
            raise ConfigurationError("--fde-storage needs --fde K_SIM,DIM_PROJ,REPS")
        return None
    try:
        k_sim, dim_proj, reps = (int(v) for v in args.fde.split(","))
    except ValueError:
        raise ConfigurationError(f"--fde takes three integers K_SIM,DIM_PROJ,REPS (e.g. 4,8,8), got {args.fde!r}") from None
    return {"k_sim": k_sim, "dim_proj": dim_proj, "reps": reps, **({"storage": args.fde_storage} if args.fde_storage else {})}


def hnsw_options(args: argparse.Namespace) -> dict[str, int] | None:
    """``--hnsw M,EF_CONSTRUCT`` as the index option, or ``None``."""
    if args.hnsw is None:
        return None
    try:
        m, ef_construct = (int(v) for v in args.hnsw.split(","))
    except ValueError:
        raise ConfigurationError(f"--hnsw takes two integers M,EF_CONSTRUCT (e.g. 32,200), got {args.hnsw!r}") from None
    return {"m": m, "ef_construct": ef_construct}


def recorded_identity(args: argparse.Namespace) -> dict[str, Any] | None:
    """The encoder identity the index at ``--index`` records, or ``None`` for a new index."""
    from ..index.targets import recorded_manifest

    manifest = recorded_manifest(args.index, wait=args.wait)
    return None if manifest is None else manifest.encoder


def encoder_for(args: argparse.Namespace, recorded: dict[str, Any] | None, check: bool = True) -> Encoder:
    """The encoder that writes: the model options' for a new index; for an existing one, the
    model, backend and heads it records unless the options name them (``check``: refuse an
    option that differs from the recording, with one line)."""
    from .common import load_encoder, load_recorded_encoder

    if recorded is None:
        return load_encoder(args)
    return load_recorded_encoder(args, recorded, args.index, check=check)


def transfer(args: argparse.Namespace) -> int:
    """``index export`` / ``index import``: copy a whole index to a new place (no model loaded)."""
    from ..index import Index
    from ..index.transfer import copy_index

    source, target = (args.index, args.to) if args.input == "export" else (args.source, args.index)
    if source is None or target is None:
        flag = "--to" if args.input == "export" else "--from"
        raise ConfigurationError(f"index {args.input} needs --index and {flag}")
    settings = cluster_settings(args, target)
    with Index.open(source, wait=args.wait) as index, copy_index(index, target, settings=settings, origin=str(source),
                                                                  show_progress=not args.quiet, wait=args.wait) as copy:
        print(f"{target}: {copy.count()} documents copied from {source} ({', '.join(copy.parts)})", file=sys.stderr)
    return 0


def cluster_settings(args: argparse.Namespace, target: str) -> Any:
    """The collection settings the flags give, or ``None``; for an index directory, only ``--on-disk``."""
    segment = getattr(args, "max_segment_mb", None)
    given = [args.shards, args.replicas, args.write_consistency, args.on_disk or None, args.payload_index or None]
    if all(v is None for v in given) and segment is None:
        return None
    from ..index.backends.engine import is_url

    if segment is not None and is_url(target):
        raise ConfigurationError("--max-segment-mb lays out an index directory; a Qdrant server's collection keeps "
                                 "the server's optimizer settings")
    if not is_url(target) and given[:3] == [None, None, None] and not args.payload_index:
        from ..index.backends.edge import ShardSettings

        if segment is not None and segment < 1:
            raise ConfigurationError(f"--max-segment-mb must be >= 1, got {segment}")
        return ShardSettings(on_disk=args.on_disk, max_segment_size_kb=segment * 1024 if segment else None)
    if not is_url(target):
        raise ConfigurationError("--shards, --replicas, --write-consistency and --payload-index lay out a "
                                 f"collection on a Qdrant server (http://host:6333/name), not {target!r}")
    from ..index.backends.remote import CollectionSettings

    indexes = {}
    for spec in args.payload_index:
        key, _, kind = spec.partition(":")
        if not key or not kind:
            raise ConfigurationError(f"--payload-index takes FIELD:TYPE, got {spec!r}")
        indexes[key] = kind
    return CollectionSettings(shard_number=args.shards, replication_factor=args.replicas,
                              write_consistency_factor=args.write_consistency, on_disk=args.on_disk,
                              payload_indexes=indexes)


def compression_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--colbert-pool-factor``, ``--sparse-top-k``, ``--sparse-min-weight`` as ``Index`` takes them."""
    options = {"colbert_pool_factor": args.colbert_pool_factor, "sparse_top_k": args.sparse_top_k,
               "sparse_min_weight": args.sparse_min_weight}
    return {k: v for k, v in options.items() if v is not None} or None
