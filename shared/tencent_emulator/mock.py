"""``mock_tencent``: the emulated cloud in this process, as a context manager, decorator or fixture."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from tencent_emulator import require_extra

require_extra()  # a clear "pip install 'vodflow[emulator]'" rather than "No module named 'responses'"

from tencent_emulator.core.cloud import Cloud  # noqa: E402
from tencent_emulator.core.inprocess import InProcess  # noqa: E402

F = TypeVar("F", bound=Callable[..., Any])


class mock_tencent:
    """Intercept ``*.tencentcloudapi.com``, ``*.myqcloud.com`` and the emulator's own hosts.

    ``with mock_tencent() as cloud:`` yields the :class:`Cloud`; as a decorator, the cloud is
    passed as the keyword argument ``cloud`` when the function accepts one.
    """

    def __init__(
        self, app_id: str = "1250000000", region: str = "ap-guangzhou", data_dir: Optional[Path] = None
    ) -> None:
        self.app_id = app_id
        self.region = region
        self.data_dir = data_dir
        self.cloud: Optional[Cloud] = None
        self._front: Optional[InProcess] = None

    def __enter__(self) -> Cloud:
        self.cloud = Cloud(app_id=self.app_id, region=self.region, data_dir=self.data_dir)
        self._front = InProcess(self.cloud)
        self._front.start()
        return self.cloud

    def __exit__(self, *exc: object) -> None:
        if self._front is not None:
            self._front.stop()
        if self.cloud is not None:
            self.cloud.close()
        self._front = None

    def __call__(self, func: F) -> F:
        wants_cloud = "cloud" in inspect.signature(func).parameters

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mock_tencent(self.app_id, self.region, self.data_dir) as cloud:
                if wants_cloud:
                    kwargs["cloud"] = cloud
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
