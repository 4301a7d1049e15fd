"""Hugging Face Hub access that fails fast offline.

Without this, a Hub id with no network behind it retries for half a minute or
more. `offline_unless_reachable()` checks the endpoint once (a 3 s TCP connect);
when it cannot be reached, or HF_HUB_OFFLINE is set, the block runs in the
libraries' offline mode, so locally cached data still loads and anything else
fails at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
from urllib.parse import urlparse

TRUE = {"1", "true", "yes", "on"}


def reachable(timeout: float = 3.0) -> bool:
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def offline_unless_reachable():
    if reachable():
        yield True
        return
    import datasets.config
    import huggingface_hub.constants

    saved = huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    old_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # transformers reads the variable at call time
    try:
        yield False
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env
