"""`make package`: not built yet (the deploy and developer-experience issue fills it)."""

import sys

from vodflow.unbuilt import announce

WHAT = """build the SCF deployment zips for the Linux runtime under build/"""


def main() -> int:
    return announce("package", " ".join(WHAT.split()))


if __name__ == "__main__":
    sys.exit(main())
