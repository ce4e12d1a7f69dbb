"""An export or import killed part-way (SIGKILL, real processes, several moments) never leaves a
target that opens as a smaller index: it is refused as an unfinished copy, and running the same
copy again finishes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from m3search.cli import main
from m3search.errors import IndexFormatError
from m3search.index import Index
from tests.corpora import build_index, make_corpus

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = 3000


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from tests.fakes import FakeEncoder

    path = tmp_path_factory.mktemp("copy") / "source"
    build_index(path, FakeEncoder(), make_corpus(DOCUMENTS)).close()
    return path


def _kill_copy_after(source: Path, target: Path, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "m3search", "index", "export", "--index", str(source),
                             "--to", str(target), "-q"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4, 3.2])
def test_a_killed_export_is_whole_or_refused_and_a_rerun_finishes_it(source, tmp_path, delay, capsys):
    target = tmp_path / "copy"
    _kill_copy_after(source, target, delay)
    if (target / "manifest.json").is_file():
        try:
            with Index.open(target) as copy:
                assert copy.count() == DOCUMENTS  # finished before the kill: whole
        except IndexFormatError as exc:
            assert "is an unfinished copy of" in str(exc) and "run the same export or import again" in str(exc)
    elif target.exists():  # killed between creating the shard and writing its manifest
        with pytest.raises(IndexFormatError):
            Index.open(target)
    assert main(["index", "export", "--index", str(source), "--to", str(target), "-q"]) in (0, 2)
    err = capsys.readouterr().err
    if "but no manifest.json" in err:  # that orphan shard is refused, never deleted: the user removes it
        shutil.rmtree(target)
        assert main(["index", "export", "--index", str(source), "--to", str(target), "-q"]) == 0
        err = capsys.readouterr().err
    if "already exists" not in err:  # a whole copy is not copied over; an unfinished one is finished
        assert err.startswith(f"{target}: {DOCUMENTS} documents copied"), err
    with Index.open(target) as copy, Index.open(source) as original:
        assert copy.count() == DOCUMENTS
        assert copy.get(["doc-2999"])[0].text == original.get(["doc-2999"])[0].text


def test_an_unfinished_copy_is_refused_by_open_and_by_writers(tmp_path, fake_encoder, source):
    from m3search.index.manifest import read_manifest, write_manifest

    target = tmp_path / "copy"
    assert main(["index", "export", "--index", str(source), "--to", str(target), "-q"]) == 0
    manifest = read_manifest(target)
    write_manifest(target, type(manifest)(**{**manifest.__dict__, "extra": {**manifest.extra, "copying_from": "src"}}))
    with pytest.raises(IndexFormatError, match="unfinished copy of src"):
        Index.open(target)
    with pytest.raises(IndexFormatError, match="unfinished copy of src"):
        Index.open_or_create(target, fake_encoder.identity)
    assert main(["index", "export", "--index", str(source), "--to", str(target), "-q"]) == 0  # finishes it
    with Index.open(target) as copy:
        assert copy.count() == DOCUMENTS and copy.manifest.unfinished_copy is None
