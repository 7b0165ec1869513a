"""A secret kept in a file of this install (mode 0600), made once: the web session key, the key
customer numbers are hashed under. Workers starting at once agree on one secret: each writes its
own temporary file and links it into place, which never replaces a file already there."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from voicebot.errors import ConfigError, os_reason


def keep_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The bytes in `path`; when it does not exist yet, `make()` them and keep them there. A path
    that cannot hold it (a folder, no permission) is a ConfigError naming it."""
    path = Path(path)
    try:
        return _keep(path, make)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot keep the secret key there ({os_reason(exc)})") from None


def _keep(path: Path, make: Callable[[], bytes]) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # 0600 from the start
        try:
            os.write(fd, make())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and fails rather than replace another worker's secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()
