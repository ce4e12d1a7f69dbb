"""The results pages are generated from the committed JSON in docs/data/ and are not stale."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_docs_results.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_docs_results", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_results = _load_script()


def _copy_tree(tmp_path: Path) -> Path:
    """The generated pages, their data and templates, and the README, under ``tmp_path``."""
    shutil.copytree(ROOT / "docs" / "data", tmp_path / "docs" / "data")
    for page in docs_results.PAGES:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / page, tmp_path / page)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def test_committed_pages_are_not_stale(capsys):
    assert docs_results.main(["--check"]) == 0, capsys.readouterr().err


def test_readme_summary_is_generated():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if docs_results.SUMMARY_BEGIN not in readme:
        pytest.skip("README.md has no results-summary markers yet")
    block = readme.split(docs_results.SUMMARY_BEGIN, 1)[1].split(docs_results.SUMMARY_END, 1)[0]
    assert docs_results.GENERATED in block
    assert "| all | **0.975** | **0.947** | **0.922** | **0.276** |" in block
    assert "(docs/results/offline-model.md)" in block


def test_a_changed_number_makes_check_fail(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    path = root / "docs" / "data" / "trained-native-qa.json"
    result = json.loads(path.read_text(encoding="utf-8"))
    assert result["averages"]["all"]["nDCG@10"] == 0.947
    result["averages"]["all"]["nDCG@10"] = 0.951
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")

    assert docs_results.main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    stale = {line.split()[1] for line in err.splitlines() if line.startswith("stale:")}
    # the mode table, the int8/bf16 and training tables, and both summaries quote that average
    assert stale == {"docs/results/offline-model.md", "docs/results/training.md", "docs/results/index.md", "README.md"}
    before = (root / "docs" / "results" / "offline-model.md").read_text(encoding="utf-8")
    assert "| all | 0.967 | 0.988 | 0.952 | 0.854 | 0.973 | **0.947** |" in before  # --check wrote nothing

    assert docs_results.main(["--root", str(root)]) == 0
    after = (root / "docs" / "results" / "offline-model.md").read_text(encoding="utf-8")
    assert "| all | 0.967 | 0.988 | 0.952 | 0.854 | 0.973 | **0.951** |" in after
    assert docs_results.main(["--check", "--root", str(root)]) == 0


def test_an_edited_page_is_stale(tmp_path, capsys):
    root = _copy_tree(tmp_path)
    page = root / "docs" / "performance.md"
    page.write_text(page.read_text(encoding="utf-8").replace("| 1,691 |", "| 1,600 |"), encoding="utf-8")
    assert docs_results.main(["--check", "--root", str(root)]) == 1
    assert "stale: docs/performance.md" in capsys.readouterr().err


def test_every_json_names_its_command():
    files = sorted((ROOT / "docs" / "data").glob("*.json"))
    assert len(files) >= 30
    for path in files:
        entry = json.loads(path.read_text(encoding="utf-8"))
        assert "command" in entry, path.name
        if entry["command"] is None:  # published reference numbers, not a measurement
            assert entry["source"], path.name
        else:
            assert entry["command"].split()[0] in ("m3search", ".venv/bin/python"), path.name
            assert "docs/data/" in entry["command"] or "--publish" in entry["command"], path.name


def test_a_json_without_command_is_refused(tmp_path):
    root = _copy_tree(tmp_path)
    (root / "docs" / "data" / "extra.json").write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(docs_results.DocsDataError, match=r"extra\.json: no \"command\""):
        docs_results.load(root / "docs" / "data")
    assert docs_results.main(["--check", "--root", str(root)]) == 2


def test_an_unknown_table_is_named():
    with pytest.raises(docs_results.DocsDataError, match="unknown table 'speed'"):
        docs_results.render("{{ table speed }}\n", {}, "page.md.tmpl")


def test_summary_needs_the_markers():
    assert docs_results.with_summary("# m3search\n", "table\n") is None


def test_script_doctests():
    import doctest

    failures, tried = doctest.testmod(docs_results)
    assert tried >= 8 and failures == 0
