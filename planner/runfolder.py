"""Run folders written all at once: a staging folder beside the target, swapped in by a rename.

Every file of a run goes through a `RunFolder` (``write_csv``, ``write_json``, ``write_text``,
``write_bytes``, or ``path`` for writers that take a file name). Nothing appears in the target until every
file is written; then the previous folder is renamed to a backup, the staging folder takes its name, and the
backup is removed. A failed, interrupted or disk-full run leaves the previous folder as it was and no stale
file behind; a lock file beside the target stops a second run into the same folder (a lock left by a dead
process is taken over), and the next run cleans up what a killed one left.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> with run_folder(out) as folder:
...     _ = folder.write_text("hello.txt", "hi")
...     out.exists()  # nothing is visible before the swap
False
>>> sorted(p.name for p in out.iterdir())
['hello.txt']
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from planner._errors import InputError, PlannerError

log = logging.getLogger(__name__)

#: A folder holding this file was written by a run, and may be replaced by the next one.
MARKER = "metrics.json"

#: A scenario name used as a folder name (``runs/<name>``) must be this simple.
SAFE_NAME = re.compile(r"[A-Za-z0-9\u4e00-\u9fff][\w\u4e00-\u9fff.-]{0,99}")


class OutputError(PlannerError, OSError):
    """A run folder could not be written (disk full, no permission); the previous results are unchanged."""


def check_output_folder(out: str | Path, *, inputs: Iterable[Path | None] = ()) -> Path:
    """Check before any computation that a run may write `out`; return it resolved.

    `out` must not be a file, must be new, empty or an earlier run folder (it is replaced as a whole), must
    not hold any of `inputs`, and its parent must be writable.

    Raises
    ------
    InputError
        Naming the folder and what to change.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise InputError(
            f"output folder {out} is a file; give a folder path with --out (new or a run folder)"
        )
    for given in inputs:
        if given is None:
            continue
        path = Path(given).expanduser().resolve()
        if path == out or out in path.parents:
            raise InputError(
                f"output folder {out} holds the input {path}; a run replaces its whole output folder, so "
                "write it elsewhere (--out runs/<name>)"
            )
    if out.is_dir() and not (out / MARKER).exists():
        others = sorted(p.name for p in out.iterdir())
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise InputError(
                f"output folder {out} is not a run folder (no {MARKER}) and holds {len(others)} file(s): "
                f"{shown}; a run replaces its whole output folder, so give a new or empty folder"
            )
    _refuse_if_busy(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise InputError(
            f"output folder {out} cannot be written ({exc.strerror or exc}); choose a folder you may write to"
        ) from None
    return out


def folder_for_name(name: str, root: str | Path = "runs") -> Path:
    """The default output folder ``<root>/<name>`` of a scenario, refusing names that are not plain words.

    >>> folder_for_name("shenyang").as_posix()
    'runs/shenyang'
    """
    if not SAFE_NAME.fullmatch(name) or name in (".", ".."):
        raise InputError(
            f"scenario name {name!r} cannot be used as a folder name under {root}/ (it must be letters, "
            "digits, '-', '_' or '.', not a path); rename the scenario or pass --out <folder>"
        )
    return Path(root) / name


class RunFolder:
    """The staging folder of one run: write every file through it; `run_folder` swaps it in."""

    def __init__(self, staging: Path, target: Path) -> None:
        self.staging = staging
        self.target = target
        self._names: list[str] = []

    @property
    def names(self) -> tuple[str, ...]:
        """The files written so far, in order."""
        return tuple(self._names)

    def path(self, name: str) -> Path:
        """Where to write file `name` now (in the staging folder); it ends up as ``target / name``."""
        if not name or Path(name).name != name or name.startswith("."):
            raise InputError(f"run-folder file name {name!r} must be a plain file name")
        if name not in self._names:
            self._names.append(name)
        return self.staging / name

    def final(self, name: str) -> Path:
        """Where file `name` will be once the run folder is in place."""
        return self.target / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write bytes; return the final path."""
        self.path(name).write_bytes(data)
        return self.final(name)

    def write_text(self, name: str, text: str, *, encoding: str = "utf-8") -> Path:
        """Write text with ``\\n`` line ends; return the final path."""
        with self.path(name).open("w", encoding=encoding, newline="\n") as f:
            f.write(text)
        return self.final(name)

    def write_json(self, name: str, data: Any) -> Path:
        """Write JSON (indented, UTF-8, non-ASCII kept); return the final path."""
        return self.write_text(name, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def write_csv(self, name: str, frame, *, index: bool = True) -> Path:
        """Write a pandas table as CSV for people (`planner.io.write_csv`: UTF-8 with a byte-order mark,
        rounded to sensible units, ``\\n`` line ends); return the final path."""
        from planner.io import write_csv

        write_csv(frame, self.path(name), index=index)
        return self.final(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(out: Path) -> dict | None:
    """The live run holding the lock of `out` (pid, host, started), else None; raises for another host."""
    lock = _lock_path(out)
    try:
        other = json.loads(lock.read_text(encoding="utf-8"))
        pid, host = int(other["pid"]), str(other["host"])
    except (OSError, ValueError, KeyError, TypeError):  # no lock, or a torn one: nobody holds it
        return None
    if host != socket.gethostname():
        raise InputError(
            f"output folder {out} is locked by a planner run on {host} (process {pid}); wait for it, "
            f"or delete {lock} if that run is gone"
        )
    return other if pid > 0 and _alive(pid) else None


def _refuse_if_busy(out: Path) -> None:
    other = _holder(out)
    if other is not None:
        raise InputError(
            f"output folder {out} is being written by another planner run (process {other['pid']}, started "
            f"{other.get('started', '?')}); wait for it to finish or choose another --out"
        )


def _take_lock(out: Path) -> Path:
    lock = _lock_path(out)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            _refuse_if_busy(out)
            log.warning("taking over the stale lock %s (the run that left it is gone)", lock)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        return lock
    raise InputError(f"could not lock output folder {out} ({lock}); delete the lock file if no run is going")


def _clean_leftovers(out: Path) -> None:
    """Under the lock: restore a backup a killed run left without its target, remove stale staging folders."""
    backups = sorted(out.parent.glob(f".{out.name}.bak-*"))
    if backups and not out.exists():
        log.warning("restoring %s from %s, left by an interrupted run", out, backups[-1].name)
        backups[-1].rename(out)
        backups = backups[:-1]
    for stale in [*backups, *out.parent.glob(f".{out.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _swap(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    backup = out.parent / f".{out.name}.bak-{os.getpid()}"
    out.rename(backup)
    try:
        staging.rename(out)
    except BaseException:
        backup.rename(out)
        raise
    shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def run_folder(out: str | Path, *, inputs: Iterable[Path | None] = ()) -> Iterator[RunFolder]:
    """Stage a run folder for `out`; on leaving the block without an error, put it in place at once.

    On any error (including Ctrl-C) the staging folder is removed and `out` is left as it was. An
    ``OSError`` while writing (disk full, permissions) becomes `OutputError` naming the folder.
    """
    out = check_output_folder(out, inputs=inputs)
    lock = _take_lock(out)
    try:
        _clean_leftovers(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        staging.chmod(0o777 & ~_umask())  # a folder as mkdir makes it, not mkdtemp's private 0700
        try:
            folder = RunFolder(staging, out)
            yield folder
            _swap(staging, out)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, PlannerError):
                raise
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            why = "the disk is full" if full else (exc.strerror or str(exc))
            raise OutputError(
                f"could not write the run folder {out}: {why}; the previous results there are unchanged"
                + ("; free some space and run again" if full else "")
            ) from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    finally:
        lock.unlink(missing_ok=True)
    log.info("run folder %s: %d files", out, len(folder.names))
