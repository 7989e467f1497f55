"""Make targets whose issue has not landed say what they will do and exit non-zero; none pretends."""

import sys


def announce(target: str, what: str) -> int:
    print(f"make {target} will {what}.", file=sys.stderr)
    print("It is not built yet: nothing was done.", file=sys.stderr)
    return 2
