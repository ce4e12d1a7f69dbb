"""SmoothQuant calibration of the int8 graph: exact in float32, deterministic, recorded, chosen by name."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from m3search.encode import Encoder
from m3search.encode.backends import onnx_attention, onnx_files, onnx_smoothquant
from m3search.errors import CheckpointError, ConfigurationError

pytest.importorskip("onnxruntime")
TEXTS = ["Mount Everest is the highest mountain", "Der Nil fließt nach Norden", "珠穆朗玛峰", "word " * 300]


def _calibration_ids(checkpoint):
    from m3search.encode.tokenizer import TextTokenizer

    return TextTokenizer.load(checkpoint).encode(onnx_smoothquant.calibration_texts(), max_length=64)


def _run(model, ids):
    import onnx
    import onnxruntime as ort

    session = ort.InferenceSession(onnx.shape_inference.infer_shapes(model).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(["hidden"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]


def test_smoothing_keeps_the_float32_graph_s_function(graph_cache, tiny_m3_path, tmp_path):
    """``X / s`` times ``diag(s) W`` is ``X W``: the smoothed float32 graph gives the same hidden
    states (before any int8 rounding), on every attention and feed-forward layer (2 layers x 3)."""
    import onnx

    Encoder.load(tiny_m3_path, backend="onnx")
    fused = onnx.load(str(onnx_files.graph_dir(tiny_m3_path, "onnx") / "model.onnx"))
    onnx_attention.restore_fused(fused)
    assert sorted(n.op_type for n in onnx_smoothquant.targets(fused.graph)) == ["Attention"] * 2 + ["MatMul"] * 4
    ranges = onnx_smoothquant.activation_ranges(fused, tmp_path, _calibration_ids(tiny_m3_path))
    smoothed = onnx.ModelProto()
    smoothed.CopyFrom(fused)
    assert onnx_smoothquant.smooth(smoothed, ranges) == 6
    assert sum(n.op_type == "Mul" for n in smoothed.graph.node) == sum(n.op_type == "Mul" for n in fused.graph.node) + 6
    scales = [np.log2(1 / onnx.numpy_helper.to_array(i)) for i in smoothed.graph.initializer
              if i.name.startswith("m3search_smooth_")]
    assert len(scales) == 6 and all(np.allclose(s * 16, np.round(s * 16), atol=1e-3) for s in scales)
    assert any(np.abs(s).max() > 0.5 for s in scales)  # the ranges did move
    ids = np.asarray([[0, 17, 33, 250, 9, 2]], dtype=np.int64)
    np.testing.assert_allclose(_run(smoothed, ids), _run(fused, ids), atol=1e-4)


def test_calibration_is_deterministic_and_recorded_in_the_graph(graph_cache, tiny_m3_path, tmp_path):
    """Two calibrations of one graph write the same bytes, and the graph and its description
    record the method, alpha and texts; the uncalibrated graph records none."""
    import onnx

    from m3search.encode.backends.onnx_export import quantize

    Encoder.load(tiny_m3_path, backend="onnx")
    source = onnx_files.graph_dir(tiny_m3_path, "onnx")
    ids = _calibration_ids(tiny_m3_path)
    first, second = quantize(source, tmp_path / "a", calibration_ids=ids), quantize(source, tmp_path / "b",
                                                                                   calibration_ids=ids)
    assert (first / "model.onnx").read_bytes() == (second / "model.onnx").read_bytes()
    recorded = onnx_smoothquant.recorded(onnx.load(str(first / "model.onnx")))
    assert recorded is not None and recorded["method"] == "smoothquant" and recorded["alpha"] == 0.8
    assert recorded["texts"].startswith("sib200-train.tsv: 202 texts") and recorded["tokens"] == sum(map(len, ids))
    meta = json.loads((first / "m3search-onnx.json").read_text())
    assert meta["calibration"] == recorded and meta["weights"].endswith("+int8sq")
    dynamic = quantize(source, tmp_path / "c")
    assert onnx_smoothquant.recorded(onnx.load(str(dynamic / "model.onnx"))) is None
    assert json.loads((dynamic / "m3search-onnx.json").read_text())["weights"].endswith("+int8pc")


def test_each_calibration_is_its_own_graph_and_identity(graph_cache, tiny_m3_path, tiny_m3):
    calibrated = Encoder.load(tiny_m3_path, backend="onnx-int8")
    dynamic = Encoder.load(tiny_m3_path, backend="onnx-int8", calibration="none")
    assert calibrated.identity["weights"].endswith("+int8sq") and dynamic.identity["weights"].endswith("+int8pc")
    assert onnx_files.graph_dir(tiny_m3_path, "onnx-int8", calibration="none").name == "onnx-int8"  # the folder dynamic int8 always had
    want = tiny_m3.encode(TEXTS).dense
    for encoder in (calibrated, dynamic):
        assert ((encoder.encode(TEXTS).dense * want).sum(axis=1)).min() > 0.99
    # an index remembers which: the identity loads the same graph again
    assert Encoder.for_identity(dynamic.identity).identity == dynamic.identity
    assert Encoder.for_identity(calibrated.identity).identity == calibrated.identity


def test_a_checkpoint_without_a_tokenizer_is_told_how_to_quantise(graph_cache, tiny_m3_copy):
    """The calibration texts need the checkpoint's tokenizer; without one the error says so and
    ``calibration="none"`` still quantises."""
    from m3search.encode.backends import onnx

    for name in ("tokenizer.json", "sentencepiece.bpe.model", "vocab.txt", "tokenizer_config.json",
                 "special_tokens_map.json"):
        (tiny_m3_copy / name).unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="no tokenizer in .*calibration='none' quantises without them"):
        onnx.load(tiny_m3_copy, "onnx-int8")
    assert onnx.load(tiny_m3_copy, "onnx-int8", calibration="none").weights_fingerprint().endswith("+int8pc")


@pytest.mark.parametrize(("options", "message"), [
    ({"backend": "onnx-int8", "calibration": "static"}, "unknown int8 calibration 'static'"),
    ({"backend": "onnx", "calibration": "none"}, "calibration='none' is a setting of the onnx-int8 backend"),
])
def test_bad_calibration_options_are_refused_by_name(tiny_m3_path, options, message):
    with pytest.raises(ConfigurationError, match=message):
        Encoder.load(tiny_m3_path, **options)


@pytest.mark.parametrize(("flags", "message"), [
    (["--int8-calibration", "static"], "invalid choice: 'static'"),
    (["--backend", "torch", "--int8-calibration", "none"], "calibration='none' is a setting of the onnx-int8 backend"),
])
def test_the_cli_refuses_bad_calibration_options_with_one_line(tiny_m3_path, tmp_path, flags, message):
    (tmp_path / "texts.txt").write_text('{"id": "1", "text": "hello"}\n')
    done = subprocess.run([sys.executable, "-m", "m3search", "encode", "--model", str(tiny_m3_path), *flags,
                           str(tmp_path / "texts.txt"), "-o", str(tmp_path / "out.npz")],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr and len([x for x in done.stderr.splitlines() if "error" in x]) == 1
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.slow
def test_calibration_brings_the_offline_models_int8_vectors_closer_to_float32(graph_cache):
    """On XQuAD-like text of the offline model (German paragraphs, questions in three scripts),
    SmoothQuant's dense and multi-vector rows are closer to float32 than dynamic int8's."""
    paragraphs = [("Die Normannen waren die Menschen, die im 10. und 11. Jahrhundert der Normandie, einer Region "
                   "in Frankreich, ihren Namen gaben. Sie stammten von nordischen Räubern und Piraten aus "
                   "Dänemark, Island und Norwegen ab, die unter ihrem Anführer Rollo dem König Karl III. von "
                   "Westfranken die Treue schworen."),
                  ("The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
                   "a region in France. They were descended from Norse raiders and pirates from Denmark, Iceland "
                   "and Norway who, under their leader Rollo, agreed to swear fealty to King Charles III.")]
    questions = ["诺曼底位于哪个国家？", "В каком веке норманны получили своё имя?", "Who was the leader of the Normans?"]
    float32 = Encoder.load("multilingual-e5-small")
    gaps = {}
    for calibration in ("none", "smoothquant"):
        int8 = Encoder.load("multilingual-e5-small", backend="onnx-int8", calibration=calibration)
        for role, texts in (("document", paragraphs), ("query", questions)):
            got, want = (e.encode(texts, role=role, parts="all") for e in (int8, float32))
            dense = float((got.dense * want.dense).sum(axis=1).mean())
            rows = float(np.mean([(a * b).sum(axis=1).mean() for a, b in zip(got.colbert, want.colbert)]))
            gaps[calibration, role] = (1 - dense, 1 - rows)
    for role in ("document", "query"):
        assert gaps["smoothquant", role][0] < gaps["none", role][0]
        assert gaps["smoothquant", role][1] < gaps["none", role][1]


@pytest.mark.parametrize(("recorded", "asked", "message"), [
    ({"backend": "onnx-int8", "weights": "abc+int8pc"}, "smoothquant", "built with --int8-calibration 'none'"),
    ({"backend": "onnx-int8", "weights": "abc+int8sq"}, "none", "built with --int8-calibration 'smoothquant'"),
    ({"backend": "torch", "weights": "abc"}, "none", "applies to an onnx-int8 index only"),
])
def test_an_existing_index_keeps_its_calibration(recorded, asked, message):
    import argparse

    from m3search.cli.common import refuse_other_settings

    args = argparse.Namespace(heads=None, colbert_dim=None, int8_calibration=asked)
    with pytest.raises(ConfigurationError, match=message):
        refuse_other_settings(args, recorded, "idx")
    refuse_other_settings(argparse.Namespace(heads=None, colbert_dim=None, int8_calibration=None), recorded, "idx")
