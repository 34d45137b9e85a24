"""Imaging pre-screen: DICOM chest radiographs → an anomaly score for earlier radiologist review.

Decision support, not diagnosis. ``runtime`` (onnxruntime, numpy, pydicom) scores; ``train``
(torch, imported lazily) builds the model from the seeded generator in ``synth``; ``evaluate``
measures it on held-out generated plates. Nothing here imports the application.
"""
