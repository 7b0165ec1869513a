"""The optional CRM webhook: after a call ends, POST its record as JSON (urllib). A failure is
logged and never reaches the caller. Wraps a Store, so the flow's only I/O stays the Store."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)


def post_json(url: str, data: dict[str, Any], timeout: float = 5.0) -> bool:
    body = json.dumps(data, default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("CRM webhook %s failed: %s", url, exc)
        return False


class CrmWebhookStore:
    """A Store that also POSTs each finished call record to `url`."""

    def __init__(self, inner: Any, url: str, timeout: float = 5.0) -> None:
        self.inner, self.url, self.timeout = inner, url, timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def finish_call(self, record: dict[str, Any]) -> None:
        self.inner.finish_call(record)
        post_json(self.url, record, self.timeout)


def with_crm_webhook(store: Any, url: str | None) -> Any:
    return CrmWebhookStore(store, url) if url else store
