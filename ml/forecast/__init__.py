"""Hourly emergency-department arrival forecast with a 10th–90th percentile band.

Runtime entry point: ``ml.forecast.runtime.ForecastModel``. Decision support for planning.
"""
