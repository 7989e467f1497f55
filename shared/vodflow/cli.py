"""The ``vodflow`` command line.

Credentials come from the environment (TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY /
TENCENTCLOUD_SESSIONTOKEN) or a profile, never from flags, so they never show in ``ps``.
"""

import click

from vodflow import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vodflow")
def main() -> None:
    """Get video into Tencent Cloud VOD: upload directly, stage through the API, follow jobs, plan large copies."""


if __name__ == "__main__":
    main()
