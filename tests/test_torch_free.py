"""Searching a saved index with precomputed query embeddings never imports torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from m3search.io import embeddings as embeddings_io
from tests.corpora import QUERY_WORDS_SAMPLE, build_index, make_corpus

ROOT = Path(__file__).resolve().parents[1]


def test_search_of_a_saved_index_does_not_import_torch(tmp_path, fake_encoder):
    build_index(tmp_path / "idx", fake_encoder, make_corpus(50)).close()
    embeddings_io.save(tmp_path / "q.npz", ["q1"], fake_encoder.encode([QUERY_WORDS_SAMPLE], parts="all", role="query"))
    script = textwrap.dedent(f"""
        import sys
        import m3search, m3search.cli, m3search.encode, m3search.eval
        from m3search.io import embeddings as embeddings_io
        from m3search.index import Index
        from m3search.search import Searcher
        _, queries = embeddings_io.load({str(tmp_path / "q.npz")!r})
        hits = Searcher(None, Index.open({str(tmp_path / "idx")!r})).search_embeddings(queries, k=3, mode="all")
        assert len(hits[0]) == 3, hits
        print("torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], check=False, cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
