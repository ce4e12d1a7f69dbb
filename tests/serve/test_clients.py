"""docs/guide/clients.md runs: its Python snippets against a real ``m3search serve`` process
(the tiny checkpoint, a four-document index), its qdrant-client snippet against qdrant-client's
local mode holding the index as ``m3search index export`` wrote it."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from qdrant_client import QdrantClient

from m3search.cli import main
from m3search.index.backends import remote
from m3search.io.jsonl import write_jsonl
from tests.serve.servers import serving

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guide" / "clients.md"
MARK = "<!-- tested by tests/serve/test_clients.py -->"
#: The addresses the page names, replaced by the test's.
DOC_SERVER = "http://127.0.0.1:8000"
DOC_QDRANT = 'QdrantClient(url="http://localhost:6333")'
DOC_INDEX = "wiki-index"
#: Each Python snippet of the page, named by a string only it holds.
SNIPPETS = {
    "openai": "client = OpenAI(",
    "encode": 'client.post("/encode"',
    "langchain": "OpenAIEmbeddings(",
    "token_ids": "[[9906, 1917]]",
    "http": "/v1/rerank",
    "qdrant": DOC_QDRANT,
}
CORPUS = [
    {"id": "everest-de", "text": "Der Mount Everest ist mit 8848 Metern der höchste Berg der Erde.", "lang": "de"},
    {"id": "everest-en", "text": "Mount Everest is Earth's highest mountain above sea level.", "lang": "en"},
    {"id": "canberra", "text": "Canberra is the capital city of Australia.", "lang": "en"},
    {"id": "zhu", "text": "珠穆朗玛峰是世界最高峰。", "lang": "zh"},
]
QUESTION = "Wie hoch ist der Mount Everest?"


def page_blocks(language: str) -> list[tuple[bool, str]]:
    """``(marked as tested, code)`` of each fenced block in ``language``."""
    text = PAGE.read_text(encoding="utf-8")
    pattern = rf"(?:^({re.escape(MARK)})\n)?^```{language}\n(.*?)^```"
    return [(bool(mark), code) for mark, code in re.findall(pattern, text, flags=re.DOTALL | re.MULTILINE)]


def snippet(name: str) -> str:
    (code,) = [code for _, code in page_blocks("python") if SNIPPETS[name] in code]
    return code


def run(name: str, namespace: dict, url: str, qdrant_path: Path | None = None) -> list[str]:
    """Run one snippet in ``namespace``; the lines it printed, each ``print(...)  # → TEXT`` among them."""
    code = snippet(name).replace(DOC_SERVER, url)
    if qdrant_path is not None:
        code = code.replace(DOC_QDRANT, f"QdrantClient(path={str(qdrant_path)!r})")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{PAGE.name}:{name}", "exec"), namespace)  # noqa: S102 - our own documentation
    for line in code.splitlines():
        expected = re.search(r"#\s*→\s*(.+?)\s*$", line)
        if line.lstrip().startswith("print(") and expected:
            assert expected.group(1) in out.getvalue(), f"{name} should print {expected.group(1)!r}"
    return out.getvalue().splitlines()


def _export_as_the_page_says(index: Path, qdrant_path: Path) -> None:
    """The page's ``m3search index export`` line, with qdrant-client's local mode as the server."""
    (line,) = [line for _, code in page_blocks("bash") for line in code.splitlines()
               if line.startswith("m3search index export")]
    argv = [str(index) if word == DOC_INDEX else word for word in shlex.split(line)[1:]]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(remote, "connect", lambda server, api_key: QdrantClient(path=str(qdrant_path)))
        assert main([*argv, "-q"]) == 0


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_m3_path) -> Iterator[tuple[str, Path]]:
    """``(server URL, local-mode Qdrant directory holding the exported index as "wiki")``: about
    15 s to build, export and start, so the tests using it are in the slow lane."""
    root = tmp_path_factory.mktemp("clients")
    write_jsonl(root / "corpus.jsonl", CORPUS)
    index, qdrant_path = root / DOC_INDEX, root / "qdrant"
    assert main(["index", str(root / "corpus.jsonl"), "--index", str(index), "--model", str(tiny_m3_path), "-q"]) == 0
    _export_as_the_page_says(index, qdrant_path)
    with serving("--index", str(index)) as url:
        yield url, qdrant_path


def search(url: str, mode: str) -> list[dict]:
    return httpx.post(f"{url}/v1/search", json={"query": QUESTION, "mode": mode, "k": 4}).json()["hits"]


def test_every_python_snippet_is_marked_and_run_here():
    blocks = page_blocks("python")
    assert all(marked for marked, _ in blocks)
    names = [[name for name, key in SNIPPETS.items() if key in code] for _, code in blocks]
    assert sorted(name for (name,) in names) == sorted(SNIPPETS)  # one name per snippet, one snippet per name


@pytest.mark.slow
def test_the_openai_client_embeds_and_encodes(served):
    url, _ = served
    namespace: dict = {}
    lines = run("openai", namespace, url) + run("encode", namespace, url)
    texts, dim, tokens = map(int, lines[0].split())
    assert (texts, dim) == (2, 32) and tokens > 2
    direct = httpx.post(f"{url}/v1/embeddings", json={"input": QUESTION, "input_type": "query"}).json()
    assert namespace["question"] == pytest.approx(direct["data"][0]["embedding"], abs=1e-6)  # base64 decoded
    assert np.linalg.norm(namespace["question"]) == pytest.approx(1.0, abs=1e-5)
    encoded = namespace["encoded"]
    assert len(encoded["dense"]) == 32 and len(encoded["colbert"][0]) == 32
    assert {"index", "value", "token"} <= set(encoded["sparse"][0])
    heaviest = sorted(encoded["sparse"], key=lambda e: -e["value"])[:3]
    assert lines[1] == str(heaviest) and all(e["token"].lstrip("▁") in QUESTION for e in heaviest)  # the question's pieces
    assert int(lines[2].split()[0]) == len(encoded["colbert"]) > 1


@pytest.mark.slow
def test_langchain_needs_check_embedding_ctx_length_off_and_a_smaller_chunk_size(served):
    import openai

    url, _ = served
    namespace: dict = {}
    run("openai", namespace, url)
    assert run("langchain", namespace, url) == ["2 32"]
    expected = [d.embedding for d in namespace["response"].data]
    assert np.allclose(namespace["vectors"], expected, atol=1e-6)  # the same texts, the same vectors
    assert np.allclose(namespace["query_vector"], namespace["question"], atol=1e-6)  # input_type query went through
    many = [f"Absatz {i}" for i in range(300)]
    assert len(namespace["embeddings"].embed_documents(many)) == 300  # three requests of at most 128 texts
    with pytest.raises(openai.APIStatusError, match="max_texts=256") as refused:
        namespace["embeddings"].model_copy(update={"chunk_size": 1000}).embed_documents(many)  # LangChain's default
    assert refused.value.status_code == 413
    assert run("token_ids", namespace, url) == ["400 input[0] holds token id 9906, outside the vocabulary [0, 5001)"]


@pytest.mark.slow
def test_langchain_by_default_sends_cl100k_ids_the_server_reads_as_its_own(served, monkeypatch):
    """What the page says of the default, with a stand-in for the cl100k table (not downloadable offline)."""
    import openai
    import tiktoken
    from langchain_openai import OpenAIEmbeddings

    class Cl100k:
        def encode_ordinary(self, text: str) -> list[int]:
            assert text == "Hello world"
            return [9906, 1917]

    def unknown_model(name: str) -> None:
        raise KeyError(name)

    monkeypatch.setattr(tiktoken, "encoding_for_model", unknown_model)
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: Cl100k() if name == "cl100k_base" else None)
    url, _ = served
    default = OpenAIEmbeddings(model="m3", base_url=f"{url}/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError, match="token id 9906, outside the vocabulary"):
        default.embed_query("Hello world")


@pytest.mark.slow
def test_search_and_rerank_over_plain_http(served):
    url, _ = served
    namespace: dict = {}
    lines = run("http", namespace, url)
    assert [line.split()[0] for line in lines[:3]] == [h["id"] for h in search(url, "all")[:3]]
    assert lines[0].startswith("everest-de ") and lines[0].endswith("{'lang': 'de'}")
    assert set(namespace["found"]["hits"][0]["scores"]) == {"dense", "sparse", "colbert"}
    english, ranked_index, score = lines[3].split()
    assert (english, ranked_index) == ("everest-en", "1")
    by_mode = namespace["ranked"][0]["scores"]  # M3's hybrid score: (dense + 0.3 sparse + colbert) / 2.3
    assert float(score) == pytest.approx((by_mode["dense"] + 0.3 * by_mode["sparse"] + by_mode["colbert"]) / 2.3, abs=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example(served):
    url, _ = served
    (command,) = [code for _, code in page_blocks("bash") if code.startswith("curl")]
    done = subprocess.run(["bash", "-c", command.replace(DOC_SERVER, url)], check=False, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hits"][0]["id"] == "everest-de"


@pytest.mark.slow
def test_qdrant_client_reads_the_exported_collection(served):
    url, qdrant_path = served
    namespace: dict = {}
    try:
        lines = run("qdrant", namespace, url, qdrant_path)
        assert lines[0] == "['colbert', 'dense'] ['sparse']"
        rows = len(namespace["multi"])
        for name, mode, scale in (("by_dense", "dense", 1), ("by_sparse", "sparse", 1), ("by_colbert", "colbert", rows)):
            points, hits = namespace[name], search(url, mode)
            expected = {h["id"]: h["scores"][mode] for h in hits}
            assert points and all(p.payload["id"] in expected for p in points)
            assert [p.score / scale for p in points] == pytest.approx(
                [expected[p.payload["id"]] for p in points], abs=2e-3)  # float16 rows on both sides
        assert [p.payload["id"] for p in namespace["by_sparse"]] == ["everest-de", "everest-en"]
        assert [p.payload["id"] for p in namespace["german"]] == ["everest-de"]
        top = namespace["by_colbert"][0].payload
        assert top == {"id": "everest-de", "text": CORPUS[0]["text"], "meta": {"lang": "de"}}
        assert lines[1].split()[0] == "everest-de" and len(lines) == 4  # every document is a candidate
    finally:
        if "qdrant" in namespace:
            namespace["qdrant"].close()  # local mode holds its directory until closed
