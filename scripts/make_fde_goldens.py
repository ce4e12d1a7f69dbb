"""Write tests/fixtures/fde-goldens.npz: fastembed's MUVERA encodings of seeded random multi-vectors,
the oracle for m3search.index.fde (tests/index/test_fde.py).

fastembed pins huggingface-hub below the version transformers 5 needs, so it runs in its own
environment, like FlagEmbedding's goldens:

    python3 -m venv .venv-fastembed && .venv-fastembed/bin/pip install "fastembed==0.9.1"
    .venv-fastembed/bin/python scripts/make_fde_goldens.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastembed.postprocess.muvera import Muvera

#: (k_sim, dim_proj, reps) settings checked, and the seed of the random matrices.
SETTINGS = [(4, 8, 8), (3, 16, 4), (2, 4, 5), (5, 8, 4), (2, 32, 2)]
SEED, DIM, SETS = 7, 32, 10


def main() -> None:
    rng = np.random.default_rng(0)
    sets = [rng.normal(size=(int(rng.integers(1, 40)), DIM)).astype(np.float32) for _ in range(SETS)]
    out: dict[str, np.ndarray] = {"rows": np.concatenate(sets),
                                  "lengths": np.array([len(s) for s in sets]), "seed": np.array(SEED)}
    for k_sim, dim_proj, reps in SETTINGS:
        muvera = Muvera(DIM, k_sim, dim_proj, reps, SEED)
        key = f"{k_sim}-{dim_proj}-{reps}"
        out[f"documents/{key}"] = np.stack([muvera.process_document(s) for s in sets]).astype(np.float32)
        out[f"queries/{key}"] = np.stack([muvera.process_query(s) for s in sets]).astype(np.float32)
    target = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fde-goldens.npz"
    np.savez_compressed(target, **out)
    print(f"wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
