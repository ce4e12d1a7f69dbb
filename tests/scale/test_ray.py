"""Encoding on a local Ray cluster (started here): the same index as one process, and a worker
killed mid-run neither loses nor duplicates a document."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from m3search.encode import Encoder
from m3search.index import Index, index_records
from m3search.io.jsonl import Record

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from m3search.scale.ray_encode import LOCAL_RAY, index_records_ray

pytestmark = pytest.mark.slow
RECORDS = [Record(f"d{i}", f"Dokument {i}: der Fluss und der Berg " * (1 + i % 5), {"n": i}) for i in range(120)]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False, **LOCAL_RAY)
    yield
    ray.shutdown()


def vectors(index: Index) -> dict[str, tuple[np.ndarray, dict[int, float], np.ndarray]]:
    docs = index.get([r.id for r in RECORDS], with_vectors=True)
    return {d.id: (d.dense, d.sparse.to_dict(), d.colbert) for d in docs if d is not None}


def test_an_index_built_through_ray_equals_a_single_process_build(cluster, tiny_m3_path, tmp_path):
    loader = functools.partial(Encoder.load, str(tiny_m3_path), device="cpu")
    single = index_records(loader(), RECORDS, tmp_path / "single", colbert_storage="float32", show_progress=False)
    built = index_records_ray(loader, RECORDS, tmp_path / "ray", actors=2, rows_per_task=16, colbert_storage="float32",
                              show_progress=False)
    with single, built:
        assert built.count() == single.count() == len(RECORDS)
        assert built.manifest.encoder == single.manifest.encoder
        expected, got = vectors(single), vectors(built)
        assert sorted(got) == sorted(expected)
        for doc_id, (dense, sparse, colbert) in expected.items():
            np.testing.assert_allclose(got[doc_id][0], dense, atol=1e-6)
            assert got[doc_id][1] == pytest.approx(sparse, abs=1e-6)
            np.testing.assert_allclose(got[doc_id][2], colbert, atol=1e-6)
        assert built.get(["d7"])[0].metadata == {"n": 7} and built.get(["d7"])[0].text == RECORDS[7].text


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster, tiny_m3_path, tmp_path):
    marker = tmp_path / "killed-once"

    class DyingEncoder:
        """Kills its worker process the first time it meets document 50 (the batch is retried)."""

        def __init__(self) -> None:
            self.inner = Encoder.load(str(tiny_m3_path), device="cpu")

        def encode(self, texts, **options):
            if any(t.startswith("Dokument 50:") for t in texts) and not marker.exists():
                marker.touch()
                os._exit(1)
            return self.inner.encode(texts, **options)

    encoder = Encoder.load(str(tiny_m3_path), device="cpu")
    with index_records_ray(DyingEncoder, RECORDS, tmp_path / "idx", actors=2, rows_per_task=16, encoder=encoder,
                           show_progress=False) as index:
        assert marker.exists()  # a worker did die
        assert index.count() == len(RECORDS)
        assert sorted(d.id for d in index.get([r.id for r in RECORDS]) if d is not None) == sorted(r.id for r in RECORDS)


def test_the_cli_builds_through_ray_the_index_it_builds_alone(cluster, tiny_m3_path, tmp_path):
    from m3search.cli import main
    from m3search.io.jsonl import write_jsonl

    corpus = tmp_path / "c.jsonl"
    write_jsonl(corpus, [{"id": r.id, "text": r.text, **r.metadata} for r in RECORDS[:40]])
    common = [str(corpus), "--model", str(tiny_m3_path), "--colbert-storage", "float32", "-q"]
    assert main(["index", *common, "--index", str(tmp_path / "alone")]) == 0
    assert main(["index", *common, "--index", str(tmp_path / "ray"), "--ray", "--ray-actors", "2"]) == 0
    with Index.open(tmp_path / "alone") as alone, Index.open(tmp_path / "ray") as through_ray:
        ids = [r.id for r in RECORDS[:40]]
        for a, b in zip(alone.get(ids, with_vectors=True), through_ray.get(ids, with_vectors=True)):
            assert a.id == b.id and a.metadata == b.metadata
            np.testing.assert_allclose(a.colbert, b.colbert, atol=1e-6)
