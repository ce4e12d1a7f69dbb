"""The vector-spec table lays out both engines the same way, and every store goes through it:
best-window dense is dense stored as multi; IndexOptions carries a new index's settings."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient

from m3search.errors import ConfigurationError
from m3search.index import Index, IndexOptions, QdrantClientBackend, index_records
from m3search.index.backends.edge import _schema
from m3search.index.manifest import Manifest
from m3search.index.vectors import vector_specs
from m3search.io.jsonl import Record
from m3search.types import Embeddings, Ragged

WINDOWS = {"name": "toy", "dim": 2, "colbert_dim": 2, "parts": ["dense", "colbert"], "long": {"window_dense": "best"}}


def test_the_table_gives_each_vector_its_kind_width_and_storage():
    plain = Manifest({**WINDOWS, "long": {}}, ("dense", "colbert"), colbert_storage="uint8")
    assert [(s.name, s.kind, s.dim, s.stored_dim, s.storage, s.indexed, s.source) for s in vector_specs(plain)] == [
        ("dense", "dense", 2, 2, "float32", True, "dense"), ("colbert", "multi", 2, 4, "uint8", False, "colbert")]
    windows = vector_specs(Manifest(WINDOWS, ("dense",)))
    assert [(s.name, s.kind, s.source, s.part) for s in windows] == [("dense", "multi", "dense_windows", "dense")]
    assert _schema(plain) == {"dense": (2, "float32"), "colbert": (4, "uint8")}


@pytest.mark.parametrize("storage", ["float32", "uint8"])
@pytest.mark.parametrize("engine", ["edge", "remote"])
def test_best_window_dense_is_dense_stored_as_multi_on_both_engines(engine, storage, tmp_path):
    target = tmp_path / "idx" if engine == "edge" else QdrantClientBackend(QdrantClient(":memory:"), "docs")
    windows = Ragged.from_arrays([np.array([[1, 0], [0, 1]], np.float32), np.array([[0.6, 0.8]], np.float32)])
    mean = np.array([[0.7071, 0.7071], [0.6, 0.8]], np.float32)
    docs = Embeddings(dense=mean, dense_windows=windows)
    rounding = 1e-6 if storage == "float32" else 1e-2  # uint8: the codes' rounding, 1/254 per component
    with Index.create(target, WINDOWS, options=IndexOptions(parts=["dense"], dense_storage=storage)) as index:
        index.add(["two-windows", "one"], docs)
        query = Embeddings(dense=np.array([[0.0, 1.0]], np.float32))
        hits = index.query("dense", query, 2)[0]
        # the first document's best window is exactly the query; its mean would score 0.707
        assert [h.doc_id for h in hits] == ["two-windows", "one"]
        assert [h.score for h in hits] == pytest.approx([1.0, 0.8], abs=rounding)
        stored = index.get(["two-windows"], with_vectors=True)[0]
        np.testing.assert_allclose(stored.dense_windows, windows[0], atol=rounding)
        np.testing.assert_allclose(stored.dense, [0.7071068, 0.7071068], atol=rounding)  # the windows' normalised mean


def test_layouts_3_and_4_give_every_stored_vector_one_byte_sum_and_exact_dot_products_between_them():
    """What an HNSW graph over uint8 vectors is built from: the engine's dot product of two stored
    vectors. Layout 3's (4's) is a constant plus 127² (554²) times the rounded vectors' dot
    product; layout 2's compensation bytes add a term that differs from neighbour to neighbour."""
    from m3search.index import codecs

    rows = np.random.default_rng(1).normal(size=(200, 384))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    spread, rounding = {}, {}
    for codec in (2, 3, 4):
        stored = codecs.encode_documents(rows, codec=codec).astype(np.float64)
        assert stored.shape[1] == 384 + {2: 3, 3: 1, 4: 1}[codec] and len(set(stored.sum(axis=1))) == 1
        decoded = codecs.decode_documents(stored, 384, codec=codec).astype(np.float64)
        units = codecs.scale(384, codec=codec) ** 2
        spread[codec] = float((stored[:100] @ stored[100:].T - units * (decoded[:100] @ decoded[100:].T)).std()) / units
        rounding[codec] = float(np.abs(decoded[:100] @ decoded[100:].T - rows[:100] @ rows[100:].T).mean())
    assert spread[3] < 1e-6 and spread[4] < 1e-6 and spread[2] > 0.01
    # each dot product within its rounding of the original's; layout 4's rounding ~4x finer at 384 dimensions
    assert rounding[3] < 3e-3 and rounding[4] < rounding[3] / 3.5


def test_layout_4_rotation_is_fixed_orthogonal_and_spreads_a_basis_vector():
    """The rotation is a format: these values are what every index of layout 4 was written with."""
    from m3search.index import codecs

    m = codecs.rotation(128)
    np.testing.assert_allclose(m @ m.T, np.eye(128), atol=1e-12)
    np.testing.assert_allclose(m[0, :3], [-0.0319586, 0.0233916, 0.0817493], atol=1e-6)
    basis = np.eye(128)
    assert np.abs(basis @ m.T).max() < 127 / codecs.scale(128, codec=4)  # spread within the codes' range
    decoded = codecs.decode_documents(codecs.encode_documents(basis, codec=4), 128, codec=4)
    assert np.einsum("ij,ij->i", decoded, basis).min() > 0.997
    again = codecs.encode_documents(decoded, codec=4)  # a decoded vector encodes to its own codes
    np.testing.assert_array_equal(again, codecs.encode_documents(basis, codec=4))


@pytest.mark.parametrize("dim", [32, 128, 384])
def test_layout_4_codes_sum_to_zero_even_where_clipping_takes_many_codes(dim):
    """The rotation's own rows are rotated onto one axis, far beyond the codes' range: clipped,
    they still get codes summing to zero, so scores stay those of the decoded vectors."""
    from m3search.index import codecs

    rows = np.array(codecs.rotation(dim)[:20])
    stored = codecs.encode_documents(rows, codec=4)
    assert ((stored[:, : dim + 1] - 128).sum(axis=1) == 0).all()
    assert stored.min() >= 1 and stored.max() <= 255
    query = codecs.encode_queries(rows[:1], codec=4)
    raw = (query @ stored.T)[0]
    decoded = codecs.decode_documents(stored, dim, codec=4)
    for j in range(len(rows)):
        assert codecs.decode_maxsim(float(raw[j]), query, dim, codec=4) == pytest.approx(
            float(decoded[0] @ decoded[j]), abs=1e-5)


def test_uint8_codes_clip_a_length_a_rounding_above_one_and_round_trip_their_own_decoding():
    from m3search.index import codecs

    rows = np.random.default_rng(0).normal(size=(50, 16))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    for codec in codecs.CODECS:
        decoded = codecs.decode_documents(codecs.encode_documents(rows, codec=codec), 16, codec=codec)
        again = codecs.encode_documents(decoded, codec=codec)
        np.testing.assert_array_equal(again, codecs.encode_documents(rows, codec=codec))
        long_axis = codecs.encode_documents(np.array([[1.005] + [0.0] * 15]), codec=codec)
        assert 0 <= long_axis.min() and long_axis.max() <= 255  # clipped, not wrapped


def test_index_options_in_one_object_and_as_keywords(tmp_path, fake_encoder):
    options = IndexOptions(parts=["dense", "colbert"], colbert_storage="uint8", compression={"colbert_pool_factor": 2})
    with Index.create(tmp_path / "a", fake_encoder.identity, options=options) as a:
        assert a.parts == ("dense", "colbert") and a.manifest.colbert_storage == "uint8"
        assert a.manifest.compression == {"colbert_pool_factor": 2}
    with Index.create(tmp_path / "b", fake_encoder.identity, options=options, colbert_storage="float32") as b:
        assert b.manifest.colbert_storage == "float32"  # a keyword given as well wins
    records = [Record("r1", "river delta"), Record("r2", "mountain lake")]
    with index_records(fake_encoder, records, tmp_path / "a", options=IndexOptions(), show_progress=False) as again:
        assert again.count() == 2 and again.manifest.colbert_storage == "uint8"  # an existing index keeps its own
    with pytest.raises(ConfigurationError, match="stores multi-vectors as uint8, not float16"):
        index_records(fake_encoder, records, tmp_path / "a", options=IndexOptions(colbert_storage="float16"),
                      show_progress=False)
    with pytest.raises(ConfigurationError, match="colbert_storage must be one of"):
        IndexOptions(colbert_storage="int4")
    with pytest.raises(TypeError, match="unknown index option"):
        IndexOptions.of(None, replication="fast")
