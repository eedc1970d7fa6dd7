"""Run folders written at once: failures, interruptions, full disks and second runs leave no mixed folder."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from planner import InputError
from planner.runfolder import OutputError, check_output_folder, folder_for_name, run_folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture
def previous(tmp_path) -> Path:
    """A run folder from an earlier run: metrics.json, coverage.csv and curve.csv."""
    out = tmp_path / "run"
    with run_folder(out) as folder:
        folder.write_json("metrics.json", {"scenario": "old"})
        folder.write_text("coverage.csv", "demand_id,covered\na,1\n")
        folder.write_text("curve.csv", "p,share\n0,0.5\n")
    return out


def test_a_successful_run_replaces_the_whole_folder(previous):
    with run_folder(previous) as folder:
        folder.write_json("metrics.json", {"scenario": "new"})
        path = folder.write_csv("coverage.csv", __import__("pandas").DataFrame({"x": [1]}), index=False)
        assert json.loads((previous / "metrics.json").read_text())["scenario"] == "old"  # not yet
    assert path == previous / "coverage.csv"
    assert sorted(_snapshot(previous)) == ["coverage.csv", "metrics.json"]  # no stale curve.csv
    assert json.loads((previous / "metrics.json").read_text())["scenario"] == "new"
    assert _leftovers(previous.parent) == []  # no staging folder, backup or lock left
    plain = previous.parent / "plain"
    plain.mkdir()
    assert previous.stat().st_mode == plain.stat().st_mode  # permissions as mkdir gives them


@pytest.mark.parametrize("fault", [RuntimeError("map failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_leaves_the_previous_folder_intact(previous, fault):
    before = _snapshot(previous)
    with pytest.raises(type(fault)), run_folder(previous) as folder:
        folder.write_text("coverage.csv", "truncated")
        raise fault
    assert _snapshot(previous) == before
    assert _leftovers(previous.parent) == []


def test_a_full_disk_is_a_message_and_the_previous_folder_stays(previous):
    before = _snapshot(previous)
    full = "the disk is full; the previous results there are unchanged"
    with pytest.raises(OutputError, match=full), run_folder(previous) as folder:
        folder.write_text("coverage.csv", "half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert _snapshot(previous) == before
    assert _leftovers(previous.parent) == []


def test_a_second_run_into_the_same_folder_is_refused(previous):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = previous.parent / ".run.lock"
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename, "started": "now"}))
        with (
            pytest.raises(InputError, match=rf"being written by another planner run \(process {sleeper.pid}"),
            run_folder(previous),
        ):
            pass
        assert lock.exists()  # the other run's lock is left alone
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over(previous, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (previous.parent / ".run.lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    with run_folder(previous) as folder:
        folder.write_json("metrics.json", {"scenario": "after"})
    assert "taking over the stale lock" in caplog.text
    assert _leftovers(previous.parent) == []


def test_a_run_killed_mid_write_leaves_the_previous_folder_and_the_next_run_cleans_up(previous):
    before = _snapshot(previous)
    code = textwrap.dedent(
        f"""
        import os, signal
        from planner.runfolder import run_folder
        with run_folder({str(previous)!r}) as folder:
            folder.write_text("coverage.csv", "half written")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    killed = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert killed.returncode == -9
    assert _snapshot(previous) == before
    assert ".run.lock" in _leftovers(previous.parent)  # what the killed run left
    with run_folder(previous) as folder:
        folder.write_json("metrics.json", {"scenario": "next"})
    assert _leftovers(previous.parent) == []
    assert sorted(_snapshot(previous)) == ["metrics.json"]


def test_a_backup_left_between_the_two_renames_is_restored(previous):
    before = _snapshot(previous)
    previous.rename(previous.parent / ".run.bak-12345")  # killed after the first rename
    with pytest.raises(RuntimeError), run_folder(previous):
        raise RuntimeError("fails again")
    assert _snapshot(previous) == before


def test_output_folder_checks(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_output_folder(a_file)
    with pytest.raises(InputError, match="cannot be written"):
        check_output_folder(a_file / "sub" / "run")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "sites.geojson").write_text("{}")
    with pytest.raises(InputError, match=r"holds the input .*sites\.geojson"):
        check_output_folder(inputs, inputs=[inputs / "sites.geojson"])
    with pytest.raises(InputError, match=r"not a run folder \(no metrics.json\) and holds 1 file"):
        check_output_folder(inputs)
    assert check_output_folder(tmp_path / "new" / "run") == (tmp_path / "new" / "run").resolve()


@pytest.mark.parametrize("name", ["/some/folder", "../../x", "a/b", "..", ""])
def test_a_scenario_name_is_no_path(name):
    with pytest.raises(InputError, match="cannot be used as a folder name"):
        folder_for_name(name)


def test_run_folder_file_names_are_plain():
    with pytest.raises(InputError, match="must be a plain file name"):
        from planner.runfolder import RunFolder

        RunFolder(Path("staging"), Path("target")).path("../escape.csv")
