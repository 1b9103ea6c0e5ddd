"""The audit review pages served by the gateway under ``/audit/``: for the auditor and admin roles only.

Server-rendered (Starlette + Jinja2, autoescaped), charts drawn as SVG on the server, no scripts and
nothing fetched from elsewhere, so the pages work offline and under a strict Content-Security-Policy.
"""

from gateway.web.app import build_audit_app

__all__ = ["build_audit_app"]
