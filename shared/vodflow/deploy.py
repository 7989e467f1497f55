"""`make deploy`: not built yet (the deploy and developer-experience issue fills it)."""

import sys

from vodflow.unbuilt import announce

WHAT = """run the preflight checks, then deploy serverless.yml with the pinned serverless tooling"""


def main() -> int:
    return announce("deploy", " ".join(WHAT.split()))


if __name__ == "__main__":
    sys.exit(main())
