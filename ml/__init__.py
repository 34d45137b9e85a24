"""Machine-learning decision support for the HMS: training pipelines, shipped ONNX models, runtime.

Nothing here imports the rest of the application. The runtime (``ml.runtime``) needs only
onnxruntime and numpy; training (``ml.*.train``) needs the ``train`` extra. Every model output
is decision support, not diagnosis.
"""
