"""Simulation primitives both the agents and the model use: stations (SimPy resources with a
working calendar), working calendars, and the territory as arrays.

They sit below ``agents/`` and ``twin.model`` so that an agent class can own a station without
importing the model that composes it.
"""
