"""Emergency switchover (常急转换): the scenario's ``emergency`` section, the roster of units whose
staff are sent down to the communities (应下尽下 / 全员下沉), emergency incident processes, the
duty to check vulnerable residents, and the ``modes`` block of ``summary.json``.

The mode controller itself (legal steps, triggers, the manual API) is :mod:`twin.modes`.
"""

from twin.scenario.emergency import Emergency

__all__ = ["Emergency"]
