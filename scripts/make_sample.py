"""Build the bundled multilingual sample ``m3search/io/samples/xquad-sample.jsonl``.

The first paragraph of 8 XQuAD articles in all 12 languages (96 documents, parallel across
languages), with one question per article in each language in ``xquad-sample-queries.jsonl``.
Texts are cleaned as every corpus is at ingestion (``m3search.io.text.clean_text``: byte-order
and bidi marks out, NFC). XQuAD is CC BY-SA 4.0 (DeepMind); see ``m3search/io/samples/README.md``.

Usage: python scripts/make_sample.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from m3search.io.text import clean_text

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "m3search" / "io" / "samples"
LANGS = ["ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
ARTICLES = 8


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data"
    docs, queries = [], []
    for lang in LANGS:
        squad = json.loads((data_dir / "raw" / "xquad" / f"xquad.{lang}.json").read_text())
        for a, article in enumerate(squad["data"][:ARTICLES]):
            paragraph = article["paragraphs"][0]
            doc_id = f"xquad-{a}-{lang}"
            docs.append({"id": doc_id, "text": clean_text(paragraph["context"]), "lang": lang, "title": article["title"]})
            qa = paragraph["qas"][0]
            queries.append({"id": f"{qa['id']}-{lang}", "text": clean_text(qa["question"]), "lang": lang, "relevant": f"xquad-{a}-"})
    with open(OUT / "xquad-sample.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    with open(OUT / "xquad-sample-queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in queries)
    print(f"wrote {len(docs)} documents and {len(queries)} queries to {OUT}")


if __name__ == "__main__":
    main()
