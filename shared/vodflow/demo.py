"""`make demo`: not built yet (the deploy and developer-experience issue fills it)."""

import sys

from vodflow.unbuilt import announce

WHAT = """start the emulator server, deploy the app into it, upload a small video, a large one through
    the fan-out and an HLS package, and check the bytes played back"""


def main() -> int:
    return announce("demo", " ".join(WHAT.split()))


if __name__ == "__main__":
    sys.exit(main())
