"""The twin itself: a Mesa model on a SimPy clock whose agents produce and handle incidents."""

from agents.grid_workers import ACTIVITIES
from twin.model.model import ROLES, ComponentFactory, DistrictModel, sla_policy

__all__ = ["ACTIVITIES", "ROLES", "ComponentFactory", "DistrictModel", "sla_policy"]
