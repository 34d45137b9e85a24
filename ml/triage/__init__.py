"""Automated triage: NEWS2 (deterministic), safety rules, and an ESI 1–5 suggestion (ONNX).

Runtime entry point: ``ml.triage.runtime.TriageModel``; contracts in ``ml.triage.schema``.
Decision support for the triage nurse, not diagnosis.
"""
