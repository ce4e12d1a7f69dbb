"""Every bad input through the CLI: exit code 2, one line on stderr that names the bad value, no
traceback, and nothing already stored lost (the index built first still holds its documents)."""

from __future__ import annotations

import json
import shlex
import shutil

import pytest

from m3search.cli import main
from m3search.index import Index
from m3search.index.lock import IndexLock
from m3search.io.jsonl import write_jsonl

GOOD = [{"id": "d1", "text": "Der Mount Everest ist hoch.", "lang": "de"},
        {"id": "d2", "text": "珠穆朗玛峰是世界最高峰。", "lang": "zh"}]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_m3_path):
    root = tmp_path_factory.mktemp("cli-errors")
    corpus = root / "good.jsonl"
    write_jsonl(corpus, GOOD)
    assert main(["index", str(corpus), "--index", str(root / "idx"), "--model", str(tiny_m3_path), "-q"]) == 0
    assert main(["index", str(corpus), "--index", str(root / "dense-idx"), "--model", str(tiny_m3_path), "-q",
                 "--parts", "dense"]) == 0
    files = {
        "surrogate.jsonl": b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "bad \\ud800 text"}\n',
        "latin1.jsonl": b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "Espa\xf1a"}\n',
        "nan.jsonl": b'{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n{"id": "c", "text": "z", "score": NaN}\n',
        "empty-text.jsonl": b'{"id": "a", "text": "x"}\n{"id": "blank", "text": "   "}\n',
        "bad-json.jsonl": b'{"id": "a", "text": "x"}\n{"id": "b", "text": \n',
        "no-id.jsonl": b'{"text": "x"}\n',
        "bad.yaml": b"train_data: [a.jsonl\n",
        "types.yaml": b'batch_size: "eight"\ntrain_data: [a.jsonl]\n',
        "list.yaml": b"- 1\n- 2\n",
        "groups.jsonl": b'{"query": "q", "pos": ["p"], "neg": ["n"]}\n',
        "a-file": b"not a directory",
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
    (root / "orphan" / "shard").mkdir(parents=True)
    (root / "orphan" / "shard" / "precious.bin").write_bytes(b"keep me")
    for name, content in (("junk-idx", b"\x89PNG\x00\xff"), ("list-idx", b"[1, 2]")):
        shutil.copytree(root / "idx", root / name)
        (root / name / "manifest.json").write_bytes(content)
    shutil.copytree(root / "idx", root / "no-encoder-idx")
    manifest = json.loads((root / "idx" / "manifest.json").read_text())
    (root / "no-encoder-idx" / "manifest.json").write_text(json.dumps({**manifest, "encoder": {}}))
    shutil.copytree(tiny_m3_path, root / "cut-model")
    weights = (tiny_m3_path / "model.safetensors").read_bytes()
    (root / "cut-model" / "model.safetensors").write_bytes(weights[:1000])
    shutil.copytree(tiny_m3_path, root / "no-tokenizer-model")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (root / "no-tokenizer-model" / name).unlink()
    beir = root / "latin1-beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "text": "Der Nil"}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "Nil?"}\n')
    (beir / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\nq1\td\xf11\t1\n")
    return root


# (arguments with {root} and {model} placeholders, text the one-line message must contain)
CASES = [
    ("encode {root}/good.jsonl -o {root}/o.npz --model {model} --batch-size 0", "--batch-size must be >= 1, got 0"),
    ("encode {root}/good.jsonl -o {root}/o.npz --model {model} --max-length 0", "--max-length must be >= 1, got 0"),
    ("encode {root}/good.jsonl -o {root}/o.csv --model {model}", "o.csv"),
    ("encode {root}/missing.jsonl -o {root}/o.npz --model {model}", "cannot read {root}/missing.jsonl"),
    ("encode {root}/good.jsonl -o {root}/o.npz --model {model} --parts dense,foo", "got 'dense,foo'"),
    ("encode {root}/surrogate.jsonl -o {root}/o.npz --model {model}", "surrogate.jsonl:2: holds a lone surrogate escape (\\ud800)"),
    ("encode {root}/good.jsonl -o {root}/o.npz --model {root}/no-such-model", "{root}/no-such-model"),
    ("index {root}/latin1.jsonl --index {root}/idx --model {model}", "latin1.jsonl:2: not UTF-8 text"),
    ("index {root}/nan.jsonl --index {root}/idx --model {model}", "nan.jsonl:3: NaN is not a JSON value"),
    ("index {root}/empty-text.jsonl --index {root}/idx --model {model}", "empty-text.jsonl:2: the text of 'blank' is empty"),
    ("index {root}/bad-json.jsonl --index {root}/idx --model {model}", "bad-json.jsonl:2: not valid JSON"),
    ("index {root}/no-id.jsonl --index {root}/idx --model {model}", "no-id.jsonl:1: 'id' must be a non-empty string"),
    ("index {root}/good.jsonl --index {root}/idx --model {model} --parts dense", "holds parts ['dense', 'sparse', 'colbert'], not ['dense']"),
    ("index {root}/good.jsonl --index {root}/idx --model {model} --colbert-storage uint8", "as float16, not uint8"),
    ("index {root}/good.jsonl --index {root}/idx --model {model} --batch-size 0", "--batch-size must be >= 1, got 0"),
    ("index {root}/good.jsonl --index {root}/orphan --model {model}", "{root}/orphan holds a Qdrant shard"),
    ("index {root}/good.jsonl --index {root}/junk-idx --model {model}", "junk-idx/manifest.json: damaged manifest"),
    ("search --index {root}/idx q -k 0", "-k must be >= 1, got 0"),
    ("search --index {root}/idx q --candidates 0", "--candidates must be >= 1, got 0"),
    ("search --index {root}/idx q --hnsw-ef 0", "--hnsw-ef must be >= 1, got 0"),
    ("search --index {root}/idx q --filter lang=", "'lang=' has an empty value"),
    ("search --index {root}/idx q --filter year>=abc", "got 'abc'"),
    ("search --index {root}/idx q --filter nonsense", "got 'nonsense'"),
    ("search --index {root}/idx q --filter x=null", "filter on 'x'"),
    ("search --index {root}/missing q", "no index at {root}/missing"),
    ("search --index {root}/good.jsonl q", "{root}/good.jsonl is a file, not an index directory"),
    ("search --index {root}/junk-idx q", "junk-idx/manifest.json: damaged manifest (not UTF-8 text)"),
    ("search --index {root}/list-idx q", "list-idx/manifest.json: damaged manifest (a JSON list, not an object)"),
    ("search --index {root}/dense-idx q --mode all", "needs ['sparse', 'colbert']"),
    ("search --index {root}/idx q --wait -1", "wait must be >= 0 seconds, got -1"),
    ("search --index {root}/idx ' '", "query 0 is empty"),
    ("search --index {root}/idx q --rerank {model}", "is not a cross-encoder: its architectures are ['XLMRobertaModel']"),
    ("search --index {root}/idx q --rerank {root}/no-such-reranker", "{root}/no-such-reranker"),
    ("search --index {root}/idx q --rerank {reranker} --rerank-depth 0", "--rerank-depth must be >= 1, got 0"),
    ("search --index {root}/idx q --rerank {reranker} --rerank-depth 5 -k 10", "k (10) exceeds rerank_depth (5)"),
    ("index {root}/good.jsonl --index {root}/idx --colbert-dim 16", "was built with --colbert-dim 32, not 16"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --colbert-dim 16", "colbert_dim 16 is not a width"),
    ("index {root}/good.jsonl --index {root}/idx --fde 3,8,4", "has the multi-vector first stage None"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --fde 3,64,4", "dim_proj (64) cannot exceed"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --fde 0,8,4", "k_sim must be a positive integer"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --hnsw 2,100", "HNSW m must be an integer in [4, 128], got 2"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --hnsw 16", "--hnsw takes two integers M,EF_CONSTRUCT"),
    ("index {root}/good.jsonl --index {root}/idx --hnsw 32,200", "has the HNSW graphs None, not"),
    ("index {root}/good.jsonl --index {root}/idx --quantize dense=int8", "has the quantisation None"),
    ("index {root}/good.jsonl --index {root}/idx --dense-storage float16", "stores dense vectors as float32, not float16"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --quantize dense=int3", "unknown quantisation 'int3'"),
    ("index {root}/good.jsonl --index {root}/new-idx --model {model} --quantize colbert=binary --no-rescore",
     "binary quantisation of ['colbert'] needs rescore"),
    ("search --index {root}/no-encoder-idx q", "damaged manifest (its encoder lacks name, dim, parts)"),
    ("encode {root}/good.jsonl -o {root}/o.npz --model {root}/cut-model", "cannot read the checkpoint in {root}/cut-model"),
    ("encode {root}/good.jsonl -o {root}/o.npz --model {root}/no-tokenizer-model",
     "no tokenizer in {root}/no-tokenizer-model: a checkpoint needs one of tokenizer.json"),
    ("index {root}/good.jsonl --index {root}/idx --compression compact", "stores multi-vectors as float16, not uint8"),
    ("index {root}/good.jsonl --index {root}/new-idx --compression smallest", "unknown compression preset 'smallest'; known: ['compact']"),
    ("eval --beir {root}/latin1-beir --model {model} --modes dense", "test.tsv:2: not UTF-8 text"),
    ("eval --beir {root}/latin1-beir --model {model} --modes dense -o {root}/a-file/r.json", "{root}/a-file is not a directory"),
    ("encode {root}/good.jsonl -o {root}/a-file/o.npz --model {model}", "{root}/a-file is not a directory"),
    ("train --config {root}/bad.yaml", "bad.yaml: not valid YAML"),
    ("train --config {root}/types.yaml", "train option batch_size must be int, got 'eight'"),
    ("train --config {root}/list.yaml", "list.yaml: a training config is a mapping"),
    ("train --config {root}/missing.yaml", "cannot read the training config {root}/missing.yaml"),
    ("train --train-data {root}/groups.jsonl --compact-colbert 8", "it needs freeze_encoder and cache_states"),
    ("train --train-data {root}/groups.jsonl --sparse-idf-prior 0", "sparse_idf_prior must be > 0"),
    ("data build-train -o {root}/a-file/mix.jsonl", "under a file: {root}/a-file is not a directory"),
    ("data build-train -o {root}/mix.jsonl --max-per-source -5", "--max-per-source must be >= 1, got -5"),
    ("data build-train -o {root}/mix.jsonl --sib-sentences -1", "--sib-sentences must be >= 0, got -1"),
    ("mine {root}/groups.jsonl -o {root}/a-file/out.jsonl --model {model}", "{root}/a-file is not a directory"),
    ("mine {root}/groups.jsonl -o {root}/out.jsonl --model {model} --negatives 0", "--negatives must be >= 1, got 0"),
]


@pytest.mark.parametrize(("command", "expected"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_is_one_line_exit_2_naming_the_value(workspace, tiny_m3_path, capsys, command, expected):
    fill = {"root": str(workspace), "model": str(tiny_m3_path), "reranker": str(tiny_m3_path.parent / "tiny-reranker")}
    code = main(shlex.split(command.format(**fill)))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("m3search: error: "), err
    assert expected.format(**fill) in lines[0]
    with Index.open(workspace / "idx") as index:  # nothing already stored is lost
        assert index.count() == 2
    assert (workspace / "orphan" / "shard" / "precious.bin").read_bytes() == b"keep me"
    assert not (workspace / "new-idx").exists()  # a refused new index leaves nothing behind


def test_an_index_another_process_holds_is_one_line_naming_the_holder(workspace, capsys):
    import os

    lock = IndexLock.acquire(workspace / "idx", wait=0)
    try:
        assert main(["search", "--index", str(workspace / "idx"), "q", "--wait", "0.2"]) == 2
    finally:
        lock.release()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"is in use by process {os.getpid()}" in err and "after waiting 0.2 s" in err


def test_a_failed_first_run_leaves_no_index_behind(workspace, tiny_m3_path, tmp_path, capsys, monkeypatch):
    from m3search.encode import Encoder
    from m3search.errors import InputError

    def fail(self, *args, **kwargs):
        raise InputError("the model refused")

    monkeypatch.setattr(Encoder, "encode", fail)
    target = tmp_path / "fresh" / "idx"
    assert main(["index", str(workspace / "good.jsonl"), "--index", str(target), "--model", str(tiny_m3_path), "-q"]) == 2
    assert "the model refused" in capsys.readouterr().err
    assert not target.exists()


def test_quiet_silences_the_model_loading_bar(workspace, tiny_m3_path, tmp_path, capfd):
    assert main(["encode", str(workspace / "good.jsonl"), "-o", str(tmp_path / "o.npz"), "--model", str(tiny_m3_path),
                 "-q"]) == 0
    err = capfd.readouterr().err
    assert "Loading" not in err and "%|" not in err
