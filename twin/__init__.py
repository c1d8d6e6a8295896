"""gridtwin: a simulation and load-testing digital twin of grid governance (网格化管理)."""

__version__ = "0.1.0"
