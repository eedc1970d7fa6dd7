"""The `planner` command: ``demo``, ``run``, ``sweep``, ``compare``, ``report``, ``network fetch``.

Exit status: 0 on success; 2 on bad input or a run that cannot give an honest answer (the message on stderr,
no traceback unless ``--debug``; the output folder is left as it was); 3 when the plan and tables were written
but an optional stage (access scores, coverage curve, service areas, map, what-if page) failed, as the
warning and ``stages`` in ``metrics.json`` say; 130 when interrupted (the output folder is left as it was).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from planner._errors import PlannerError

log = logging.getLogger(__name__)

DEFAULT_DEMO_OUT = Path("maps") / "shenyang"


def _parser() -> argparse.ArgumentParser:
    def flags(default) -> argparse.ArgumentParser:
        # the same flags before and after the command; after it they only override (SUPPRESS default)
        parent = argparse.ArgumentParser(add_help=False)
        parent.add_argument(
            "-q", "--quiet", action="store_true", default=default, help="warnings and errors only"
        )
        parent.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging")
        parent.add_argument(
            "--debug", action="store_true", default=default, help="show the traceback of errors"
        )
        return parent

    common = flags(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Site elderly-care facilities for the 15-minute life circle on street networks.",
        parents=[flags(False)],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", parents=[common], help="run the built-in Shenyang default (scenarios/shenyang.toml)"
    )
    demo.add_argument(
        "--out", type=Path, default=DEFAULT_DEMO_OUT, help=f"output folder (default {DEFAULT_DEMO_OUT})"
    )
    demo.add_argument(
        "--speed",
        help="walking speed: a preset name (planning, older_dry, older_winter, older_at_risk, frail) or m/s",
    )

    run = sub.add_parser("run", parents=[common], help="run a scenario file")
    run.add_argument("scenario", type=Path, help="scenario .toml file")
    run.add_argument("--out", type=Path, help="output folder (default runs/<scenario name>)")
    run.add_argument("--speed", help="override the walking speed (preset name or m/s)")

    sweep = sub.add_parser("sweep", parents=[common], help="run many variants of scenarios (on Dask)")
    sweep.add_argument("sweep", type=Path, help="sweep .toml file (a base scenario and the axes to vary)")
    sweep.add_argument("--out", type=Path, help="sweep folder (default sweeps/<sweep name>)")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    sweep.add_argument("--workers", type=int, help="workers of the local Dask cluster (default: one a core)")
    sweep.add_argument("--keep-runs", action="store_true", help="also write each variant's run folder")
    sweep.add_argument("--yes", action="store_true", help=f"allow more than {10_000:,} variants")

    compare = sub.add_parser(
        "compare", parents=[common], help="what changed between two run folders, by district"
    )
    compare.add_argument("a", type=Path, help="first run folder")
    compare.add_argument("b", type=Path, help="second run folder")

    report = sub.add_parser(
        "report", parents=[common], help="write report.html, report.xlsx and CSV tables into a run folder"
    )
    report.add_argument("run_dir", type=Path, help="run folder (from `planner run` or `planner demo`)")
    report.add_argument("--compare", type=Path, help="another run folder of the same scenario")
    report.add_argument("--lang", choices=("zh", "en"), help="language (default: zh for Shenyang, else en)")

    network = sub.add_parser("network", parents=[common], help="street network tools")
    net_sub = network.add_subparsers(dest="network_command", required=True, metavar="ACTION")
    fetch = net_sub.add_parser(
        "fetch", parents=[common], help="download the walk network of a scenario's study area into the cache"
    )
    fetch.add_argument("scenario", type=Path, nargs="?", help="scenario file (default: the Shenyang default)")
    fetch.add_argument("--place", help="a place name instead, e.g. 'Heping District, Shenyang, China'")
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    if not args.verbose:
        for noisy in ("numba", "urllib3", "fiona", "pyogrio", "matplotlib", "distributed"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _speed(value: str | None):
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


#: Exit status when the plan and tables were written but an optional stage failed.
EXIT_STAGE_FAILED = 3


def _run(scenario, out: Path, args: argparse.Namespace, *, scenario_file: Path | None = None) -> int:
    import json

    from planner.pipeline import run
    from planner.results import write_outputs
    from planner.runfolder import check_output_folder

    check_output_folder(out, inputs=[*scenario.input_paths(), scenario_file])  # before any computation
    speed = _speed(getattr(args, "speed", None))
    if speed is not None:
        scenario = scenario.with_speed(speed)
    result = run(scenario, progress=not args.quiet)
    paths = write_outputs(result, out)
    sys.stdout.write(result.headline() + "\n")
    if "map" in paths:
        sys.stdout.write(f"map: {paths['map'].resolve()}\n")
    sys.stdout.write(f"tables and metrics: {out.resolve()}/\n")
    stages = json.loads(paths["metrics"].read_text(encoding="utf-8"))["stages"]
    failed = {name: status for name, status in stages.items() if status.startswith("failed")}
    if failed:
        for name, status in failed.items():
            sys.stderr.write(f"planner: warning: optional stage {name} {status}\n")
        return EXIT_STAGE_FAILED
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import distributed  # noqa: F401  (it sets its loggers' levels when imported: quiet them after)

    from planner.sweep import read_sweep, run_sweep

    if not args.verbose:
        logging.getLogger("distributed").setLevel(logging.WARNING)

    sweep = read_sweep(args.sweep, yes=args.yes)
    out = args.out or Path("sweeps") / sweep.name
    result = run_sweep(
        sweep,
        out,
        scheduler=args.scheduler,
        workers=args.workers,
        keep_runs=args.keep_runs,
        progress=not args.quiet,
    )
    failed, flagged = result.failed, result.violations
    sys.stdout.write(
        f"sweep {sweep.name}: {len(sweep)} variants: {len(sweep) - len(failed)} done, {len(failed)} failed"
        + (f" ({', '.join(failed[:10])})" if failed else "")
        + (f"; {len(flagged)} break a sanity rule ({', '.join(flagged[:10])})" if flagged else "")
        + f"\ntable and charts: {out.resolve()}/\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `planner` command."""
    args = _parser().parse_args(argv)
    _setup_logging(args)
    try:
        if args.command == "demo":
            from planner.scenario import DEFAULT_SCENARIO, read_scenario

            return _run(read_scenario(DEFAULT_SCENARIO), args.out, args)
        if args.command == "run":
            from planner.runfolder import folder_for_name
            from planner.scenario import read_scenario

            scenario = read_scenario(args.scenario)
            out = args.out or folder_for_name(scenario.name)
            return _run(scenario, out, args, scenario_file=args.scenario)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "compare":
            from planner.results import compare_runs

            sys.stdout.write(compare_runs(args.a, args.b) + "\n")
            return 0
        if args.command == "report":
            from planner.report import write_report

            paths = write_report(args.run_dir, compare=args.compare, lang=args.lang)
            sys.stdout.write(f"report: {paths['html'].resolve()}\nworkbook: {paths['xlsx'].resolve()}\n")
            return 0
        if args.command == "network":
            from planner.inputs import fetch_network
            from planner.scenario import DEFAULT_SCENARIO, read_scenario

            scenario = read_scenario(args.scenario or DEFAULT_SCENARIO, check_files=False)
            path = fetch_network(scenario, place=args.place)
            sys.stdout.write(f"walk network cached: {path}\n")
            return 0
    except PlannerError as exc:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"planner: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("planner: interrupted\n")
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
