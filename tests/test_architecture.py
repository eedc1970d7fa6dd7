"""The layout keeps its floors: no `planner` module imports one from a higher floor (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planner"
ARCHITECTURE = PACKAGE.parent / "docs" / "ARCHITECTURE.md"

#: The floors, top down, as docs/ARCHITECTURE.md draws them: a module imports only from floors below its own
#: (modules of one sub-package, ``network`` or ``locate``, count as one and may import each other).
#: ``planner`` is the package's ``__init__`` (its eager imports; the rest it hands on by name, lazily).
FLOORS = (
    ("__main__",),
    ("cli",),
    ("sweep",),
    ("pipeline", "report"),
    ("results", "access", "sensitivity"),
    ("whatif", "coverage", "isochrones", "locate"),
    ("costs", "inputs"),
    ("snap", "demand", "sites", "synthetic", "runfolder"),
    ("network", "io", "maps", "scenario", "checks"),
    ("coords", "settings", "_validate", "datasets", "equity", "i18n", "standards", "planner"),
    ("_errors", "provenance", "_dijkstra", "_assets", "_sweep_charts"),
)
FLOOR = {unit: k for k, units in enumerate(FLOORS) for unit in units}


def _unit(module: str) -> str:
    """``planner.network.read`` -> ``network``; ``planner.costs`` -> ``costs``; ``planner`` -> ``planner``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def planner_imports(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """(line, imported planner module) of every import in a file, in functions and ``TYPE_CHECKING`` too.

    `module` is the file's dotted name (default: from its place in the package).
    """
    module = module or _module_name(path)
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "planner"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this file's package
                package = module.split(".")
                package = package if path.name == "__init__.py" else package[:-1]
                kept = package[: len(package) - node.level + 1]
                base = ".".join([*kept, node.module or ""]).rstrip(".")
            else:
                base = node.module or ""
            if base.split(".")[0] != "planner":
                continue
            if base == "planner":  # `from planner import network`: the submodule; `__version__`: the package
                subs = [a.name for a in node.names if (PACKAGE / a.name).is_dir()]
                subs += [a.name for a in node.names if (PACKAGE / f"{a.name}.py").is_file()]
                out += [(node.lineno, f"planner.{s}") for s in subs]
                if len(subs) < len(node.names):
                    out.append((node.lineno, "planner"))
            else:
                out.append((node.lineno, base))
    return sorted(out)


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_floor():
    missing = sorted({_unit(_module_name(p)) for p in _files()} - set(FLOOR))
    assert missing == [], f"add {missing} to FLOORS here and to docs/ARCHITECTURE.md"


def test_no_module_imports_from_a_higher_floor():
    upward = []
    for path in _files():
        unit = _unit(_module_name(path))
        for line, module in planner_imports(path):
            target = _unit(module)
            if target != unit and FLOOR[target] <= FLOOR[unit]:
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                upward.append(f"{where} ({unit}) imports {module} ({target})")
    assert upward == []


def test_the_check_sees_lazy_relative_and_package_imports(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(
        "import numpy\n"
        "from planner.costs import TravelTimes\n"
        "def f():\n"
        "    import planner.pipeline\n"
        "    from planner import network, __version__\n"
        "    from ._common import id_order\n",
        encoding="utf-8",
    )
    got = planner_imports(path, "planner.locate.probe")
    assert got == [
        (2, "planner.costs"),
        (4, "planner.pipeline"),
        (5, "planner"),
        (5, "planner.network"),
        (6, "planner.locate._common"),
    ]
    # and the rule flags the upward one: locate (floor 5) importing pipeline (floor 3)
    assert [m for _, m in got if FLOOR[_unit(m)] <= FLOOR["locate"] and _unit(m) != "locate"] == [
        "planner.pipeline"
    ]


def test_architecture_md_draws_these_floors():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    drawn = [
        tuple(re.findall(r"[\w]+", line.split(":", 1)[1]))
        for line in re.findall(r"^floor \d+:.*$", text, flags=re.M)
    ]
    assert drawn == list(FLOORS)


@pytest.mark.parametrize("floor", range(len(FLOORS)))
def test_architecture_md_names_every_module(floor):
    text = ARCHITECTURE.read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `planner/([\w/]+?)(?:\.py|/)?`", text, flags=re.M))
    for unit in FLOORS[floor]:
        if unit in ("planner", "__main__"):
            continue
        assert unit in rows, f"docs/ARCHITECTURE.md has no row for planner/{unit}"
