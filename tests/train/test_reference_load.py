"""A checkpoint written by ``m3search train`` is a BGE-M3 checkpoint: FlagEmbedding's
``BGEM3FlagModel`` loads it (in the reference environment, ``.venv-ref``) and encodes exactly
what m3search encodes with it."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from m3search.encode import Encoder
from m3search.train.groups import TrainGroup, write_groups
from m3search.train.train_config import TrainConfig
from m3search.train.trainer import Trainer
from tests.train.batches import GROUPS, QUERIES

ROOT = Path(__file__).resolve().parents[2]
REF_PYTHON = Path(os.environ.get("M3SEARCH_REF_PYTHON", ROOT / ".venv-ref" / "bin" / "python"))


@pytest.fixture(scope="module")
def ref_python() -> Path:
    if not REF_PYTHON.is_file():
        message = f"no reference environment at {REF_PYTHON} (see scripts/make_parity_goldens.py)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must create it", pytrace=False)
        pytest.skip(message)
    return REF_PYTHON


@pytest.mark.slow
def test_flagembedding_loads_a_trained_checkpoint(ref_python, tiny_m3_path, tmp_path):
    data = tmp_path / "train.jsonl"
    write_groups(data, [TrainGroup(q, (p,), (n,)) for q, (p, n) in zip(QUERIES, GROUPS)])
    out = Trainer(TrainConfig(train_data=[str(data)], output_dir=str(tmp_path / "model"), model=str(tiny_m3_path),
                              batch_size=2, group_size=2, max_steps=2, learning_rate=1e-3, device="cpu",
                              show_progress=False, plot=False)).train()
    texts = ["Der Mount Everest ist hoch.", "珠穆朗玛峰海拔8848米。"]
    script = textwrap.dedent(f"""
        import json
        from FlagEmbedding import BGEM3FlagModel
        model = BGEM3FlagModel({str(out)!r}, use_fp16=False, devices="cpu")
        out = model.encode({texts!r}, return_dense=True, return_sparse=True, return_colbert_vecs=True)
        print(json.dumps({{"dense": out["dense_vecs"].tolist(),
                          "sparse": [{{k: float(v) for k, v in w.items()}} for w in out["lexical_weights"]],
                          "colbert": [c.tolist() for c in out["colbert_vecs"]]}}))
    """)
    done = subprocess.run([str(ref_python), "-c", script], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    ours = Encoder.load(out, device="cpu").encode(texts, parts="all")
    np.testing.assert_allclose(ours.dense, np.array(theirs["dense"]), atol=1e-5)
    for mine, ref in zip(ours.sparse, theirs["sparse"]):
        assert mine.to_dict() == pytest.approx({int(k): v for k, v in ref.items()}, abs=1e-5)
    for mine, ref in zip(ours.colbert, theirs["colbert"]):
        np.testing.assert_allclose(mine, np.array(ref), atol=1e-5)
