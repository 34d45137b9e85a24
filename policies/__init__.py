"""Access policy for the HMS: the Rego bundle under ``hms/authz`` and the engines that evaluate it.

Imports nothing of the app. ``build_engine(opa_url)`` gives the embedded regopy
engine, or the OPA-server engine when a URL is configured; both return a
:class:`Decision` and fail closed.
"""
from policies.engine import Decision, PolicyEngine, build_engine

__all__ = ["Decision", "PolicyEngine", "build_engine"]
