"""The server as users run it: ``m3search serve`` in its own process on 127.0.0.1, then the search
page in a real headless browser (Debian's chromium driven by playwright), and the OpenAPI schema
fuzzed by schemathesis (no 5xx, every error JSON, every response as documented)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from m3search.cli import main
from m3search.io.jsonl import write_jsonl
from tests.conftest import FIXTURES
from tests.serve.servers import serving

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CORPUS = [
    {"id": "everest-de", "text": "Der Mount Everest ist mit 8848 Metern der höchste Berg der Erde.", "lang": "de"},
    {"id": "everest-en", "text": "Mount Everest is Earth's highest mountain above sea level.", "lang": "en"},
    {"id": "canberra", "text": "Canberra is the capital city of Australia.", "lang": "en"},
    {"id": "zhu", "text": "珠穆朗玛峰是世界最高峰。", "lang": "zh"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_m3_path):
    root = tmp_path_factory.mktemp("serve")
    corpus = root / "corpus.jsonl"
    write_jsonl(corpus, CORPUS)
    assert main(["index", str(corpus), "--index", str(root / "idx"), "--model", str(tiny_m3_path), "-q"]) == 0
    with serving("--index", str(root / "idx"), "--model", str(tiny_m3_path)) as url:
        yield url, root


def test_the_server_starts_from_the_cli_and_serves(server):
    url, root = server
    info = httpx.get(f"{url}/info").json()
    assert info["index"]["documents"] == 4 and info["parts"] == ["dense", "sparse", "colbert"]
    hits = httpx.post(f"{url}/v1/search", json={"query": "Everest", "k": 2}).json()["hits"]
    assert len(hits) == 2
    embedded = httpx.post(f"{url}/v1/embeddings", json={"input": ["a", "b"]}).json()
    assert len(embedded["data"]) == 2
    # the server holds the index: a second process is told who has it
    from m3search.errors import IndexLockedError
    from m3search.index import Index

    with pytest.raises(IndexLockedError, match=r"__main__.py serve --index"):
        Index.open(root / "idx", wait=0)


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed")
def test_the_search_page_in_a_real_browser(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, _ = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_function("document.getElementById('info').textContent.includes('documents')")
            page.fill("#query", "Wie hoch ist der Mount Everest?")
            page.select_option("#mode", "all")
            page.click("button[type=submit]")
            page.wait_for_selector("li.hit")
            assert page.locator("li.hit").count() == 4
            first = page.locator("li.hit").first
            assert first.locator(".bar.dense").count() == 1 and first.locator(".bar.colbert").count() == 1
            first.locator("details.explain summary").click()
            assert first.locator("table.align tr").count() > 0
            assert first.locator("mark").count() > 0  # matched tokens highlighted in the text
            page.fill("#lang", "zh")
            page.click("button[type=submit]")
            page.wait_for_function("document.querySelectorAll('li.hit').length === 1")
            assert "zhu" in page.locator("li.hit .id").first.inner_text()
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    low, high = pixels.getextrema()
    assert high - low > 100 and pixels.size[0] > 300  # text on a background, not a blank page


def test_schemathesis_finds_no_server_error(tiny_m3, tmp_path):
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, settings

    from m3search.index import index_records
    from m3search.io.jsonl import Record
    from m3search.serve import ServeSettings, create_app

    index = index_records(tiny_m3, [Record(d["id"], d["text"], {"lang": d["lang"]}) for d in CORPUS],
                          tmp_path / "idx", show_progress=False)
    from m3search import CrossEncoder

    reranker = CrossEncoder.load(FIXTURES / "tiny-reranker", device="cpu")  # /v1/rerank's model and rerank_depth
    app = create_app(tiny_m3, index, ServeSettings(max_texts=16, max_chars=2000, max_k=50), reranker)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    conformance = [status_code_conformance, content_type_conformance, response_schema_conformance]
    failures = []

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call()
        content_type = response.headers.get("content-type") or [""]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        if response.status_code >= 500 or not content_type.startswith(("application/json", "text/plain")):
            failures.append((case.method, case.path, case.body, response.status_code, response.text[:200]))
        if response.status_code >= 400:
            assert "error" in response.json()
        try:
            case.validate_response(response, checks=conformance)
        except FailureGroup as exc:  # schemathesis's failures: the response is not as documented
            failures.append((case.method, case.path, case.body, response.status_code, str(exc)[:300]))

    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    fuzzed = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                given(case=operation.as_strategy(generation_mode=mode))(check)()
                fuzzed.add((operation.method.upper(), operation.path, mode.value))
            except Unsatisfiable:  # nothing invalid to send (an operation without parameters)
                assert mode == GenerationMode.NEGATIVE
    assert {("POST", "/v1/embeddings", "negative"), ("POST", "/v1/search", "positive")} <= fuzzed
    index.close()
    assert not failures, failures[:3]


def test_chromium_is_where_the_setup_puts_it():
    if os.environ.get("CI"):
        assert shutil.which("chromium") or Path(CHROMIUM).exists()
