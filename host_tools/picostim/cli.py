"""The `picostim` command: board check, sim (and more as the host tools grow)."""

import argparse
import sys
from typing import Optional


def _cmd_board_check(args: argparse.Namespace) -> int:
    from picostim import boardcheck

    return boardcheck.run(args.files)


def _cmd_policy_check(args: argparse.Namespace) -> int:
    from picostim import policycheck

    return policycheck.run(args.files)


def _cmd_sim(args: argparse.Namespace) -> int:
    if args.silicon:
        from picostim.silicon import simrun

        return simrun.run(args.board, args.script, args.until, args.vcd, flash_timing=args.flash_timing)
    from picostim.sim import terminal

    return terminal.run(board=args.board, until_s=args.until, speed=args.speed, script=args.script, vcd=args.vcd)


def _cmd_bench(args: argparse.Namespace) -> int:
    from picostim import bench

    return bench.main(args.areas)


def _cmd_plot(args: argparse.Namespace) -> int:
    from picostim import plot

    return plot.run(args.program, args.output, args.board)


def _cmd_deploy(args: argparse.Namespace) -> int:
    from picostim import deploy

    return deploy.main(args.port or "", args.board, package_json=args.package_json)


def _cmd_safety_report(args: argparse.Namespace) -> int:
    from picostim.safetycase import report

    return report.main(args.output, args.bench, args.mutants)


def _cmd_mutants(args: argparse.Namespace) -> int:
    from picostim.safetycase import mutants

    return mutants.main([*args.ids, "--budget", args.budget, "-o", args.output, "-j", str(args.jobs)])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="picostim", description="PicoStim host tools")
    sub = p.add_subparsers(dest="command", required=True)

    board = sub.add_parser("board", help="board files")
    board_sub = board.add_subparsers(dest="board_command", required=True)
    check = board_sub.add_parser("check", help="validate board files with the firmware's own rules")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=_cmd_board_check)

    pol = sub.add_parser("policy", help="site policy files (docs/clients.md)")
    pol_sub = pol.add_subparsers(dest="policy_command", required=True)
    pcheck = pol_sub.add_parser("check", help="validate policy files with the firmware's own rules")
    pcheck.add_argument("files", nargs="+", metavar="FILE")
    pcheck.set_defaults(func=_cmd_policy_check)

    sim = sub.add_parser("sim", help="run firmware/main.py on the simulated board")
    sim.add_argument("--board", default="boards/stim4.json", help="board file (default: boards/stim4.json)")
    sim.add_argument("--until", type=float, default=None, metavar="SECONDS",
                     help="stop after this much simulated time (default: run until q or Ctrl-C)")
    sim.add_argument("--speed", default="1", help="1 for real time, N for N times faster, or 'max' (default: 1)")
    sim.add_argument("--script", default=None, metavar="SCENARIO",
                     help="run this scenario file headless (one action per line, see picostim.sim.scenario)")
    sim.add_argument("--vcd", default=None, metavar="OUT.vcd",
                     help="write every stim pin, output-enable, LED, buzzer and input to this VCD file")
    sim.add_argument("--silicon", action="store_true",
                     help="run on the real MicroPython v1.28.0 firmware in an emulated RP2040 (headless; needs"
                          " Node.js and `make setup`) instead of the model")
    sim.add_argument("--flash-timing", default="typical", choices=("typical", "worst", "zero"),
                     help="with --silicon: flash erase/program times of the W25Q16JV (default: typical)")
    sim.set_defaults(func=_cmd_sim)

    b = sub.add_parser("bench", help="measure; write build/bench.json and print it as a table")
    b.add_argument("areas", nargs="*", help="only these areas (default: all)")
    b.set_defaults(func=_cmd_bench)

    pl = sub.add_parser("plot", help="draw a program's envelope and one pulse pair (from the model) to a PNG")
    pl.add_argument("program", metavar="PROGRAM", help="a built-in program name or a JSON program file")
    pl.add_argument("-o", "--output", required=True, metavar="FILE.png")
    pl.add_argument("--board", default="boards/stim4.json", help="board file (default: boards/stim4.json)")
    pl.set_defaults(func=_cmd_plot)

    dp = sub.add_parser("deploy", help="compile the firmware with mpy-cross and copy it and a board file to a board")
    dp.add_argument("--port", default="", help="the board's serial port, e.g. /dev/ttyACM0")
    dp.add_argument("--board", default="boards/stim4.json", help="board file to install as /board.json")
    dp.add_argument("--package-json", action="store_true",
                    help="only rewrite package.json (the manifest for mpremote mip install)")
    dp.set_defaults(func=_cmd_deploy)

    sr = sub.add_parser("safety-report", help="docs/hazards.md with bench figures and mutant results, as one HTML page")
    sr.add_argument("-o", "--output", default="build/safety.html", metavar="FILE.html")
    sr.add_argument("--bench", default="build/bench.json", help="bench report (default: build/bench.json)")
    sr.add_argument("--mutants", default="build/mutants.json", help="mutant results (default: build/mutants.json)")
    sr.set_defaults(func=_cmd_safety_report)

    mu = sub.add_parser("mutants", help="run the safety case's mutants; write build/mutants.json")
    mu.add_argument("ids", nargs="*", help="only these mutants (default: all)")
    mu.add_argument("--budget", choices=("ci", "bench"), default="ci")
    mu.add_argument("-o", "--output", default="build/mutants.json")
    mu.add_argument("-j", "--jobs", type=int, default=1)
    mu.set_defaults(func=_cmd_mutants)

    from picostim import console

    console.add_parser(sub)  # picostim console --port PORT status|log|programs|limits|time-set|stop|version|board

    from picostim import clientreport

    clientreport.add_parsers(sub)  # picostim clients export --port P; picostim report (--port P | --log F) --client ID
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    rc: int = args.func(args)
    return rc
