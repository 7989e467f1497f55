"""Stands in for the serverless CLI (VODFLOW_DEPLOY_COMMAND): records argv, cwd and environment, deploys nothing."""

import json
import os
import sys

with open(os.environ["DX_RECORD_TO"], "w") as fh:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}, fh)
