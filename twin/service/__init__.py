"""The case engine served over HTTP: the native JSON API, Open311 GeoReport v2, tokens, limits.

It sits on :mod:`twin.engine` alone and never imports the model (the layer contract in
``pyproject.toml`` holds it).
"""
