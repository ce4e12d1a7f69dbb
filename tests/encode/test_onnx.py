"""The exported-graph backends (ONNX Runtime float32 and int8, OpenVINO) against torch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from m3search.encode import Encoder
from m3search.encode.backends import onnx_files
from m3search.errors import ConfigurationError

pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Mount Everest is the highest mountain", "Der Nil fließt nach Norden", "珠穆朗玛峰", "word " * 300]


@pytest.fixture(scope="session")
def torch_outputs(tiny_m3):
    return tiny_m3.encode(TEXTS, parts="all")


def assert_close(a, b, tol):
    assert np.abs(a.dense - b.dense).max() <= tol
    for x, y in zip(a.colbert, b.colbert):
        assert x.shape == y.shape
        assert np.abs(x - y).max() <= tol
    for x, y in zip(a.sparse, b.sparse):
        assert x.ids.tolist() == y.ids.tolist()
        assert np.abs(x.weights - y.weights).max() <= tol


@pytest.mark.parametrize("kind", ["onnx", "openvino"])
def test_float32_graph_equals_torch_on_every_output(kind, graph_cache, tiny_m3_path, torch_outputs):
    if kind == "openvino":
        pytest.importorskip("openvino")
    encoder = Encoder.load(tiny_m3_path, backend=kind)
    assert encoder.backend.kind == kind
    assert_close(encoder.encode(TEXTS, parts="all"), torch_outputs, 1e-4)


def test_onnx_runtimes_graph_is_fused_and_openvinos_is_plain(graph_cache, tiny_m3_path):
    """ONNX Runtime runs attention, skip-layer-norm and GELU as single operators (two layers: two
    each per layer's kind; attention has a masked and a flash branch); OpenVINO reads a graph
    without contrib operators."""
    import json

    from m3search.encode.backends.onnx_fusion import op_counts

    Encoder.load(tiny_m3_path, backend="onnx")
    fused = onnx_files.graph_dir(tiny_m3_path, "onnx")
    want = {"Attention": 2, "MultiHeadAttention": 2, "SkipLayerNormalization": 4, "BiasGelu": 2}
    assert json.loads((fused / onnx_files.META_FILE).read_text())["fused"] == want
    assert op_counts(fused / onnx_files.GRAPH_FILE) == want
    assert onnx_files.graph_dir(tiny_m3_path, "openvino").name == "onnx-plain"
    from m3search.encode.backends.onnx_export import export_cached

    plain = export_cached(tiny_m3_path, onnx_files.graph_dir(tiny_m3_path, "openvino"), "onnx-plain")
    assert op_counts(plain / onnx_files.GRAPH_FILE) == {}
    assert json.loads((plain / onnx_files.META_FILE).read_text())["fused"] == {}


def test_long_strategies_run_through_the_graph(graph_cache, tiny_m3_path):
    kwargs = {"long_strategy": "windows", "window_size": 32, "window_stride": 16}
    want = Encoder.load(tiny_m3_path, device="cpu", **kwargs).encode(TEXTS, parts="all")
    got = Encoder.load(tiny_m3_path, backend="onnx", **kwargs).encode(TEXTS, parts="all")
    assert_close(got, want, 1e-4)


def test_identity_is_the_torch_models_and_records_the_backend(graph_cache, tiny_m3_path, tiny_m3):
    encoder = Encoder.load(tiny_m3_path, backend="onnx")
    assert {k: v for k, v in encoder.identity.items() if k != "backend"} == tiny_m3.identity
    assert encoder.identity["backend"] == "onnx"
    again = Encoder.for_identity(encoder.identity)  # an index built with ONNX is searched with ONNX
    assert again.backend.kind == "onnx"
    assert Encoder.for_identity(encoder.identity, backend="torch").backend.kind == "torch"


def test_int8_is_close_has_its_own_identity_and_keeps_heads_float32(graph_cache, tiny_m3_path, torch_outputs):
    import onnx

    int8 = Encoder.load(tiny_m3_path, backend="onnx-int8")
    out = int8.encode(TEXTS, parts="all")
    cosines = (out.dense * torch_outputs.dense).sum(axis=1)
    assert cosines.min() > 0.99
    assert int8.identity["weights"].endswith("+int8sq")  # SmoothQuant-calibrated (test_int8_calibration.py)
    graph = onnx.load(str(onnx_files.graph_dir(tiny_m3_path, "onnx-int8") / "model.onnx")).graph
    head_ops = sorted(n.op_type for n in graph.node if "hidden" in n.input)
    assert head_ops == ["MatMul", "MatMul"]  # the sparse and multi-vector projections, float32
    assert any(n.op_type == "MatMulInteger" for n in graph.node)

    all_int8 = Encoder.load(tiny_m3_path, backend="onnx-int8", quantize_heads=True)
    graph = onnx.load(str(onnx_files.graph_dir(tiny_m3_path, "onnx-int8", quantize_heads=True) / "model.onnx")).graph
    assert "MatMul" not in {n.op_type for n in graph.node if "hidden" in n.input}
    assert all_int8.identity["weights"].endswith("+int8sq-heads")
    assert Encoder.for_identity(all_int8.identity).identity == all_int8.identity


def test_the_graph_is_exported_once_and_again_when_a_head_changes(graph_cache, tiny_m3_copy, monkeypatch):
    from m3search.encode.backends import onnx_export

    first = Encoder.load(tiny_m3_copy, backend="onnx")
    monkeypatch.setattr(onnx_export, "export", lambda *a, **k: pytest.fail("exported twice"))
    Encoder.load(tiny_m3_copy, backend="onnx")
    monkeypatch.undo()

    head = tiny_m3_copy / "sparse_linear.pt"
    import torch

    state = torch.load(head, weights_only=True)
    state["bias"] = state["bias"] + 1.0
    torch.save(state, head)
    changed = Encoder.load(tiny_m3_copy, backend="onnx")
    assert changed.identity["weights"] != first.identity["weights"]
    a, b = first.encode(TEXTS[:1], parts="sparse"), changed.encode(TEXTS[:1], parts="sparse")
    assert a.sparse[0].to_dict() != b.sparse[0].to_dict()


def test_heads_can_be_dropped_not_attached(graph_cache, tiny_m3_path):
    encoder = Encoder.load(tiny_m3_path, backend="onnx").without_heads()
    assert encoder.parts == ("dense",)
    with pytest.raises(ConfigurationError, match="cannot attach heads"):
        encoder.add_heads(init="baseline")
    with pytest.raises(ConfigurationError, match="dtype"):
        Encoder.load(tiny_m3_path, backend="onnx", dtype="float16")
    with pytest.raises(ConfigurationError, match="unknown backend 'tensorrt'"):
        Encoder.load(tiny_m3_path, backend="tensorrt")


def test_a_missing_onnxruntime_gives_the_install_hint(graph_cache, tiny_m3_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'm3search\[onnx\]'"):
        Encoder.load(tiny_m3_path, backend="onnx")


def test_an_exported_graph_encodes_without_torch(graph_cache, tiny_m3_path, torch_outputs, tmp_path):
    Encoder.load(tiny_m3_path, backend="onnx")  # export here, where torch is
    np.save(tmp_path / "want.npy", torch_outputs.dense)
    script = textwrap.dedent(f"""
        import sys, importlib.abc
        class NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from m3search.encode import Encoder
        enc = Encoder.load({str(tiny_m3_path)!r}, backend="onnx")
        out = enc.encode({TEXTS!r}, parts="all")
        assert np.abs(out.dense - np.load({str(tmp_path / "want.npy")!r})).max() <= 1e-4
        print("torch" in sys.modules, len(out.sparse), out.colbert.dim)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "M3SEARCH_CACHE": str(graph_cache)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", str(len(TEXTS)), "32"]


@pytest.mark.slow
def test_offline_model_float32_graph_equals_torch(graph_cache):
    texts = ["query: Wie hoch ist der Mount Everest?", "В 1953 году Эверест впервые покорили.", "珠穆朗玛峰海拔8848米。"]
    want = Encoder.load("multilingual-e5-small", device="cpu").encode(texts, parts="all")
    got = Encoder.load("multilingual-e5-small", backend="onnx").encode(texts, parts="all")
    assert_close(got, want, 1e-4)


def test_cli_index_and_search_with_the_onnx_backend(graph_cache, tiny_m3_path, tmp_path, capsys):
    import json

    from m3search.cli import main

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(TEXTS)), encoding="utf-8")
    answers = {}
    for backend in ("torch", "onnx"):
        index_dir = tmp_path / backend
        assert main(["index", str(corpus), "--index", str(index_dir), "--model", str(tiny_m3_path),
                     "--backend", backend, "-q"]) == 0
        capsys.readouterr()
        assert main(["search", "--index", str(index_dir), "highest mountain", "--json", "-k", "3"]) == 0
        (result,) = json.loads(capsys.readouterr().out)  # the export's messages stay off stdout
        answers[backend] = [(h["id"], round(h["score"], 4)) for h in result["hits"]]
    assert answers["onnx"] == answers["torch"]
    with pytest.raises(SystemExit) as exit_info:
        main(["encode", str(corpus), "-o", str(tmp_path / "x.npz"), "--backend", "tensorrt"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["flip", "cut", "lose-record", "bad-record"])
def test_a_damaged_cached_graph_is_exported_again_not_served(graph_cache, tiny_m3_copy, damage):
    from m3search.encode.backends.onnx_files import CHECKSUM_FILE, GRAPH_FILE, graph_dir

    good = Encoder.load(tiny_m3_copy, backend="onnx").encode(TEXTS, parts="all")
    graph = graph_dir(tiny_m3_copy, "onnx") / GRAPH_FILE
    data = bytearray(graph.read_bytes())
    if damage == "flip":  # a weight's bytes flipped: the graph still loads and gives other numbers
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 64])
        graph.write_bytes(bytes(data))
    elif damage == "cut":
        graph.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "lose-record":
        (graph.parent / CHECKSUM_FILE).unlink()
    else:
        (graph.parent / CHECKSUM_FILE).write_text("[not a record")
    again = Encoder.load(tiny_m3_copy, backend="onnx").encode(TEXTS, parts="all")
    np.testing.assert_array_equal(again.dense, good.dense)
    np.testing.assert_array_equal(again.colbert.data, good.colbert.data)


def test_a_copied_or_moved_checkpoint_finds_its_cached_graph(graph_cache, tiny_m3_path, tmp_path):
    import shutil

    from m3search.encode.backends.onnx_files import graph_dir

    first = Encoder.load(tiny_m3_path, backend="onnx")
    copy = shutil.copytree(tiny_m3_path, tmp_path / "elsewhere" / "renamed-model")
    assert graph_dir(copy, "onnx") == graph_dir(tiny_m3_path, "onnx")  # keyed by content, not place
    exported = graph_dir(copy, "onnx") / "model.onnx"
    stamp = exported.stat().st_mtime_ns
    np.testing.assert_allclose(Encoder.load(copy, backend="onnx").encode(TEXTS).dense, first.encode(TEXTS).dense,
                               atol=1e-6)
    assert exported.stat().st_mtime_ns == stamp  # not exported again
    head = copy / "colbert_linear.pt"
    head.write_bytes(head.read_bytes()[:-8] + bytes(8))  # a changed head: another graph
    assert graph_dir(copy, "onnx") != graph_dir(tiny_m3_path, "onnx")


def test_a_model_saved_with_its_graphs_loads_them_without_exporting(graph_cache, tiny_m3_path, tmp_path):
    import shutil

    from m3search.errors import CheckpointError, ConfigurationError

    saved = Encoder.load(tiny_m3_path, device="cpu").save(tmp_path / "model", backends=["onnx", "onnx-int8"])
    assert (saved / "onnx" / "onnx" / "model.onnx").is_file() and (saved / "onnx" / "onnx-int8-sq" / "model.onnx").is_file()
    expected = Encoder.load(saved, backend="onnx-int8").encode(TEXTS).dense
    shutil.rmtree(graph_cache / "onnx")  # no cached graph left: only the saved one can serve
    again = Encoder.load(saved, backend="onnx-int8")
    np.testing.assert_allclose(again.encode(TEXTS).dense, expected, atol=1e-6)
    assert not (graph_cache / "onnx").exists()  # nothing exported, nothing written to the cache
    head = saved / "colbert_linear.pt"
    head.write_bytes(head.read_bytes()[:-8] + bytes(8))  # other weights: the saved graph no longer serves
    assert onnx_files.saved_graph(saved, "onnx-int8") is None
    graph = saved / "onnx" / "onnx-int8-sq" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="the ONNX export saved in .* is damaged"):
        Encoder.load(saved, backend="onnx-int8")
    with pytest.raises(ConfigurationError, match=r"cannot save graphs for \['openvino'\]"):
        Encoder.load(tiny_m3_path, device="cpu").save(tmp_path / "other", backends=["openvino"])


def test_a_saved_model_carries_the_uncalibrated_int8_graph_beside_the_calibrated_one(graph_cache, tiny_m3_path,
                                                                                    tmp_path):
    import shutil

    from m3search.errors import ConfigurationError

    encoder = Encoder.load(tiny_m3_path, device="cpu")
    saved = encoder.save(tmp_path / "model", backends=["onnx-int8"])
    encoder.save(saved, backends=["onnx-int8"], calibration="none")
    assert (saved / "onnx" / "onnx-int8-sq" / "model.onnx").is_file() and (saved / "onnx" / "onnx-int8" / "model.onnx").is_file()
    expected = {c: Encoder.load(saved, backend="onnx-int8", calibration=c).encode(TEXTS).dense for c in ("smoothquant", "none")}
    shutil.rmtree(graph_cache / "onnx")
    for calibration, dense in expected.items():
        np.testing.assert_allclose(Encoder.load(saved, backend="onnx-int8", calibration=calibration).encode(TEXTS).dense,
                                   dense, atol=1e-6)
    assert not (graph_cache / "onnx").exists()  # both served from the saved model
    encoder.save(saved, backends=["onnx-int8"])  # saved again with no cached graph: the saved one stays
    assert (saved / "onnx" / "onnx-int8-sq" / "model.onnx").is_file() and not (graph_cache / "onnx").exists()
    with pytest.raises(ConfigurationError, match="unknown int8 calibration 'static'"):
        encoder.save(tmp_path / "bad", backends=["onnx-int8"], calibration="static")
    assert not (tmp_path / "bad").exists()  # refused before anything was written


@pytest.mark.parametrize("kind", ["onnx", "onnx-int8"])
def test_one_text_takes_the_flash_branch_and_a_padded_batch_the_masked_one(kind, graph_cache, tiny_m3_path):
    """Each layer's attention is an ``If``: ONNX Runtime's ``MultiHeadAttention`` without a mask
    (flash: no length² matrix) for unpadded batches, the fused node for padded ones. Both agree
    with torch (float32) and with each other (int8: the same int8 codes and scales)."""
    import onnx
    import onnxruntime as ort

    from m3search.encode.backends.onnx_attention import UNPADDED, restore_fused

    Encoder.load(tiny_m3_path, backend=kind)
    path = onnx_files.graph_dir(tiny_m3_path, kind) / onnx_files.GRAPH_FILE
    model = onnx.load(str(path))
    branches = [n for n in model.graph.node if n.op_type == "If" and list(n.input) == [UNPADDED]]
    assert len(branches) == 2
    parts = {a.name: onnx.helper.get_attribute_value(a) for a in branches[0].attribute}
    then, other = parts["then_branch"], parts["else_branch"]
    fused = "Attention" if kind == "onnx" else "QAttention"
    projection = "MatMul" if kind == "onnx" else "MatMulIntegerToFloat"
    assert [n.op_type for n in then.node] == [projection, "Split", "MultiHeadAttention"]
    assert [n.op_type for n in other.node] == [fused]
    assert len(then.node[-1].input) == 4  # no key padding mask: the flash kernel's condition

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert restore_fused(model) == 2
    assert not any(n.op_type == "If" for n in model.graph.node)
    assert sum(n.op_type == fused for n in model.graph.node) == 2
    plain = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ids = np.array([[0] + list(range(100, 130)) + [2]], dtype=np.int64)
    mask = np.ones_like(ids)
    flash, masked = session.run(["hidden"], {"input_ids": ids, "attention_mask": mask}), \
        plain.run(["hidden"], {"input_ids": ids, "attention_mask": mask})
    assert np.abs(flash[0] - masked[0]).max() < (1e-4 if kind == "onnx" else 2e-2)
    cosine = (flash[0][0, 0] @ masked[0][0, 0]) / np.linalg.norm(flash[0][0, 0]) / np.linalg.norm(masked[0][0, 0])
    assert cosine > 0.9999


def test_single_texts_and_batches_through_the_graph_equal_torch(graph_cache, tiny_m3_path, torch_outputs):
    """The flash branch (each text alone) and the masked branch (all texts in one padded batch)."""
    encoder = Encoder.load(tiny_m3_path, backend="onnx")
    alone = [encoder.encode([text], parts="all") for text in TEXTS]
    for i, out in enumerate(alone):
        assert np.abs(out.dense[0] - torch_outputs.dense[i]).max() <= 1e-4
        assert np.abs(out.colbert[0] - torch_outputs.colbert[i]).max() <= 1e-4
        assert out.sparse[0].ids.tolist() == torch_outputs.sparse[i].ids.tolist()


def test_exported_graphs_plan_the_token_budget_of_the_device_they_run_on(graph_cache, tiny_m3_path):
    from m3search.encode.batching import CPU_BATCH_TOKENS, GPU_BATCH_TOKENS

    assert Encoder.load(tiny_m3_path, backend="onnx").batch_tokens == CPU_BATCH_TOKENS == 2048
    encoder = Encoder.load(tiny_m3_path, backend="onnx-int8")
    assert encoder.batch_tokens == 1024  # int8 runs smaller passes faster (benchmarks/batch_tokens.py)

    class OnCuda:
        def get_providers(self):
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    encoder.backend.session = OnCuda()
    assert encoder.batch_tokens == GPU_BATCH_TOKENS == 16384


def test_the_rewrite_undoes_exactly_and_keeps_external_weights_once(graph_cache, tiny_m3_path, tmp_path):
    """``restore_fused`` then ``unmask_when_unpadded`` gives the exported graph back byte for byte;
    rewriting a graph whose weights are in an external file leaves one copy of them, not two."""
    import onnx
    import onnxruntime as ort

    from m3search.encode.backends.onnx_attention import restore_fused, rewrite_file, unmask_when_unpadded

    Encoder.load(tiny_m3_path, backend="onnx")
    path = onnx_files.graph_dir(tiny_m3_path, "onnx") / onnx_files.GRAPH_FILE
    exported = onnx.load(str(path))
    model = onnx.load(str(path))
    assert restore_fused(model) == 2 and unmask_when_unpadded(model) == 2
    assert model.SerializeToString() == exported.SerializeToString()

    external = tmp_path / "model.onnx"
    onnx.save(exported, str(external), save_as_external_data=True, location="model.onnx.data", size_threshold=0)
    size = (tmp_path / "model.onnx.data").stat().st_size
    assert rewrite_file(external, restore_fused) == 2
    assert rewrite_file(external, unmask_when_unpadded) == 2
    assert (tmp_path / "model.onnx.data").stat().st_size < 1.1 * size  # one copy of the weights, not two
    ids = np.array([[0, 100, 200, 300, 2], [0, 400, 2, 1, 1]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": (ids != 1).astype(np.int64)}
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["hidden"], feeds)[0]
    got = ort.InferenceSession(str(external), providers=["CPUExecutionProvider"]).run(["hidden"], feeds)[0]
    assert np.array_equal(want, got)


def test_a_batch_of_texts_of_one_length_takes_the_flash_branch_and_equals_torch(graph_cache, tiny_m3_path, tiny_m3):
    texts = ["alpha beta gamma delta", "gamma delta alpha beta"]
    lengths = {len(ids) for ids in tiny_m3.tokenize(texts)}
    assert len(lengths) == 1  # no padding: the flash branch
    want = tiny_m3.encode(texts, parts="all")
    got = Encoder.load(tiny_m3_path, backend="onnx").encode(texts, parts="all")
    assert_close(got, want, 1e-4)


def test_graphs_with_external_weights_export_and_quantise(tiny_m3_path, tmp_path, monkeypatch, torch_outputs):
    """Checkpoints above protobuf's 2 GB keep their weights in ``model.onnx.data``: the rewrite and
    the int8 quantisation (which reads the float32 weights in place) work on that layout too
    (forced here on the tiny checkpoint)."""
    from m3search.encode.backends import onnx_export

    monkeypatch.setattr(onnx_files, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(onnx_export, "_EXTERNAL_DATA_BYTES", 0)
    float32 = Encoder.load(tiny_m3_path, backend="onnx")
    int8 = Encoder.load(tiny_m3_path, backend="onnx-int8")
    for kind in ("onnx", "onnx-int8"):
        folder = onnx_files.graph_dir(tiny_m3_path, kind)
        assert (folder / "model.onnx.data").is_file() and not list(folder.glob(".fused-*"))
    assert (folder / "m3search-onnx.json").read_text().count('"layers": 6') == 1  # SmoothQuant on external weights
    assert_close(float32.encode(TEXTS, parts="all"), torch_outputs, 1e-4)
    cosines = (int8.encode(TEXTS, parts="all").dense * torch_outputs.dense).sum(axis=1)
    assert cosines.min() > 0.99
