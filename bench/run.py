"""`make bench`: not built yet (the benchmarks issue fills it)."""

import sys

from vodflow.unbuilt import announce

WHAT = """run the emulator server with a network model and measure vodflow's pipeline, the raw copy limit,
    the naive function and the official SDK side by side, writing bench/results.json, bench/results.md and
    bench/throughput.png"""


def main() -> int:
    return announce("bench", " ".join(WHAT.split()))


if __name__ == "__main__":
    sys.exit(main())
