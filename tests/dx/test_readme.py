"""docs/configuration.md's table is the code's VARIABLES table, and serverless.yml uses no other variable."""

from __future__ import annotations

import re

from tests.dx.conftest import ROOT
from vodflow.pipeline.config import DEPLOY_VARIABLES, VARIABLES


def readme_table() -> dict[str, str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    block = text.split("<!-- config-table:start -->", 1)[1].split("<!-- config-table:end -->", 1)[0]
    rows = {}
    for line in block.splitlines():
        m = re.match(r"^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_the_readme_lists_every_variable_with_its_default() -> None:
    expected = {
        v.name: "(required)" if v.required else (f"`{v.default}`" if v.default else "(empty)")
        for v in (*VARIABLES, *DEPLOY_VARIABLES)
    }
    assert readme_table() == expected


def test_serverless_yml_reads_only_documented_variables_and_passes_every_function_variable() -> None:
    yml = (ROOT / "serverless.yml").read_text()
    used = set(re.findall(r"\$\{env:([A-Z0-9_]+)\}", yml))
    assert used <= set(readme_table())
    passed = set(re.findall(r"- key: ([A-Z0-9_]+)", yml))
    assert passed == {v.name for v in VARIABLES}


def test_the_fixed_names_and_defaults_of_the_issue() -> None:
    table = readme_table()
    assert table["VODFLOW_REGION"] == "`ap-guangzhou`"
    assert table["VODFLOW_STAGING_PREFIX"] == "`incoming/`"
    assert table["VODFLOW_STAGING_BUCKET"] == "(required)"
    assert {"VODFLOW_API_TOKEN", "VODFLOW_VOD_SUB_APP_ID"} <= set(table)
