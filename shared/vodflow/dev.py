"""`make dev`: not built yet (the deploy and developer-experience issue fills it)."""

import sys

from vodflow.unbuilt import announce

WHAT = """start the emulator server with the app deployed and the API on a local port, logs in the terminal"""


def main() -> int:
    return announce("dev", " ".join(WHAT.split()))


if __name__ == "__main__":
    sys.exit(main())
