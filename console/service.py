"""``hms console``: the Streamlit console over HTTPS with the stack's certificate, TLS 1.3 only.

Streamlit's own options take only a certificate and a key (``server.sslCertFile`` /
``server.sslKeyFile``), which leaves the floor at TLS 1.2. Streamlit serves through uvicorn,
whose ``Config.load()`` builds the SSL context with ``uvicorn.config.create_ssl_context``;
wrapping that function to raise ``minimum_version`` makes the console refuse TLS 1.2
(tests/e2e/test_console_e2e.py checks both versions against the running console).
"""
from __future__ import annotations

import ssl
import sys
from pathlib import Path
from typing import Any

from deploy.settings import Settings

APP = Path(__file__).with_name("app.py")


def require_tls13() -> None:
    """Make every SSL context uvicorn builds in this process refuse anything older than TLS 1.3."""
    import uvicorn.config

    original = uvicorn.config.create_ssl_context
    if getattr(original, "hms_tls13", False):
        return

    def create_ssl_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        ctx = original(*args, **kwargs)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        return ctx

    create_ssl_context.hms_tls13 = True  # type: ignore[attr-defined]
    uvicorn.config.create_ssl_context = create_ssl_context


def streamlit_argv(settings: Settings, cert: Path, key: Path) -> list[str]:
    return ["streamlit", "run", str(APP), "--server.address", settings.host, "--server.port", str(settings.console_port),
            "--server.sslCertFile", str(cert), "--server.sslKeyFile", str(key), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal", "--theme.base", "light"]


def run_console(settings: Settings) -> int:
    """Serve the console until signalled (Streamlit handles SIGTERM)."""
    from streamlit.web import cli

    from deploy.tls import ensure_tls

    files = ensure_tls(settings)
    require_tls13()
    sys.argv = streamlit_argv(settings, files.server_cert, files.server_key)
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
