"""Write the multilingual texts the calibrated int8 graph is calibrated on (package data).

Two sentences per language of SIB-200's train split (FLORES-200 text, CC BY-SA 4.0; never an
evaluation split of m3search's suites), 62 languages, each language its own sentences (the
split is parallel), chosen by a seeded draw: ``python scripts/make_calibration_texts.py``
rewrites ``m3search/encode/backends/calibration/sib200-train.tsv`` byte for byte.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from m3search.train.mix import read_sib

PER_LANGUAGE = 2
TARGET = ROOT / "m3search" / "encode" / "backends" / "calibration" / "sib200-train.tsv"


def main(raw: Path = ROOT.parent / "shared" / "data" / "raw") -> None:
    sib = read_sib(raw)
    shared = sorted(set.intersection(*(set(v) for v in sib.values())), key=int)
    order = random.Random(0).sample(shared, PER_LANGUAGE * len(sib))
    rows = ["language\tindex_id\ttext"]
    for i, language in enumerate(sorted(sib)):
        for index in sorted(order[i * PER_LANGUAGE:(i + 1) * PER_LANGUAGE], key=int):
            rows.append(f"{language}\t{index}\t{' '.join(sib[language][index].split())}")
    TARGET.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows) - 1} sentences in {len(sib)} languages -> {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))
