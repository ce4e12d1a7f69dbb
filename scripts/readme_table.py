"""Print ``m3search eval`` JSON results as Markdown tables for the README.

    .venv/bin/python scripts/readme_table.py eval-native-qa-multilingual-e5-small.json [METRIC]
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        result = json.load(handle)
    metric = sys.argv[2] if len(sys.argv) > 2 else result["metrics"][0]
    scores = result["scores"]
    subsets = list(next(iter(scores.values())))
    print(f"#### {result['suite']} · {metric}\n")
    print("| mode | " + " | ".join(subsets) + " | avg |")
    print("|---|" + "---:|" * (len(subsets) + 1))
    for mode, per_subset in scores.items():
        values = [per_subset[s][metric] for s in subsets]
        print(f"| {mode} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {result['averages'][mode][metric]:.3f} |")
    if result.get("groups"):
        groups = list(next(iter(result["groups"].values())))
        print(f"\nby answer position · {metric}\n")
        print("| mode | " + " | ".join(groups) + " |")
        print("|---|" + "---:|" * len(groups))
        for mode, per_group in result["groups"].items():
            print(f"| {mode} | " + " | ".join(f"{per_group[g][metric]:.3f}" for g in groups) + " |")


if __name__ == "__main__":
    main()
