"""Load tests shaped by a scenario (``twin loadtest``).

The scenario's incident stream becomes an arrival schedule compressed in time
(:mod:`twin.loadtest.schedule`), written as a *plan* that the Locust users in
``loadtests/locustfile.py`` read (:mod:`twin.loadtest.plan`, no Locust import here or anywhere
in the core). :mod:`twin.loadtest.runner` starts the service and Locust as subprocesses, reads
their results back (:mod:`twin.loadtest.results`) and compares the operational KPIs with a pure
simulation of the same scenario and seed.
"""
