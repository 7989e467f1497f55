"""SCF function `api` (its function URL): presigned uploads, job start, status and listing."""

from typing import Any

from vodflow.pipeline.api import Api
from vodflow.pipeline.config import Config
from vodflow.pipeline.runtime import Runtime


def main_handler(event: Any, context: Any) -> Any:
    config = Config.from_environment()
    api = Api(runtime=lambda: Runtime.from_environment(context, config=config), token_sha256=config.api_token_sha256)
    request_id = context.get("request_id", "") if isinstance(context, dict) else ""
    return api.handle(event, str(request_id or ""))
