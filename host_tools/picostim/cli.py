"""The `picostim` command: board check, sim (and more as the host tools grow)."""

import argparse
import sys
from typing import Optional


def _cmd_board_check(args: argparse.Namespace) -> int:
    from picostim import boardcheck

    return boardcheck.run(args.files)


def _cmd_sim(args: argparse.Namespace) -> int:
    from picostim.sim import terminal

    return terminal.run(board=args.board, until_s=args.until, speed=args.speed)


def _cmd_bench(args: argparse.Namespace) -> int:
    from picostim import bench

    return bench.main(args.areas)


def _cmd_plot(args: argparse.Namespace) -> int:
    from picostim import plot

    return plot.run(args.program, args.output, args.board)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="picostim", description="PicoStim host tools")
    sub = p.add_subparsers(dest="command", required=True)

    board = sub.add_parser("board", help="board files")
    board_sub = board.add_subparsers(dest="board_command", required=True)
    check = board_sub.add_parser("check", help="validate board files with the firmware's own rules")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=_cmd_board_check)

    sim = sub.add_parser("sim", help="run firmware/main.py on the simulated board")
    sim.add_argument("--board", default="boards/stim4.json", help="board file (default: boards/stim4.json)")
    sim.add_argument("--until", type=float, default=None, metavar="SECONDS",
                     help="stop after this much simulated time (default: run until q or Ctrl-C)")
    sim.add_argument("--speed", default="1", help="1 for real time, or 'max' (default: 1)")
    sim.set_defaults(func=_cmd_sim)

    b = sub.add_parser("bench", help="measure; write build/bench.json and print it as a table")
    b.add_argument("areas", nargs="*", help="only these areas (default: all)")
    b.set_defaults(func=_cmd_bench)

    pl = sub.add_parser("plot", help="draw a program's envelope and one pulse pair (from the model) to a PNG")
    pl.add_argument("program", metavar="PROGRAM", help="a built-in program name or a JSON program file")
    pl.add_argument("-o", "--output", required=True, metavar="FILE.png")
    pl.add_argument("--board", default="boards/stim4.json", help="board file (default: boards/stim4.json)")
    pl.set_defaults(func=_cmd_plot)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    rc: int = args.func(args)
    return rc
