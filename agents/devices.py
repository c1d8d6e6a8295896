"""Devices for elders living alone and facility sensors, as groups per grid.

SOS wristbands / one-key callers (Zoucheng 686 callers; Ezhou wristbands) raise true
emergencies and false presses; smart water meters alert after 6–8 hours of zero use
(Zoucheng) — a real fall or an elder away from home; facility sensors (sewer, pipes,
lifts) report faults and false alarms (Xiangyang). A device is out of service on a share
of days (``availability``): true events then go unseen by the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from twin.scenario import Scenario


@dataclass(frozen=True)
class Alerts:
    time: np.ndarray
    grid: np.ndarray
    kind: np.ndarray  # 0 SOS true, 1 SOS false, 2 water fall, 3 water away, 4 sensor fault, 5 sensor false

    @property
    def false_alarm(self) -> np.ndarray:
        return (self.kind == 1) | (self.kind == 3) | (self.kind == 5)


class DeviceGroups(mesa.Agent):
    """Device counts per grid and their daily alerts."""

    def __init__(self, model: mesa.Model, sc: Scenario, elders_alone: np.ndarray, residents: np.ndarray, rng: np.random.Generator) -> None:
        super().__init__(model)
        d = sc.devices
        self.cfg = d
        self.gen = rng
        w = elders_alone / elders_alone.sum() if elders_alone.sum() > 0 else residents / residents.sum()
        self.sos = rng.multinomial(d.sos_callers, w)
        self.water = rng.multinomial(d.water_meters, w)
        self.sensors = rng.multinomial(d.facility_sensors, residents / residents.sum())
        self.missed = 0  # true events during outages

    def alerts(self, day: int) -> Alerts:
        d, rng = self.cfg, self.gen
        a = d.availability
        rates = (
            (self.sos, d.sos_true_rate * a),
            (self.sos, d.sos_false_rate * a),
            (self.water, d.water_fall_rate * a),
            (self.water, d.water_away_rate * a),
            (self.sensors, d.sensor_fault_rate * a),
            (self.sensors, d.sensor_false_rate * a),
        )
        times, grids, kinds = [], [], []
        for k, (count, rate) in enumerate(rates):
            n = rng.poisson(count * rate)
            g = np.repeat(np.arange(count.size), n)
            t = day * 1440.0 + rng.random(g.size) * 1440.0
            if k in (2, 3):  # water meters alert after 6–8 h of zero use
                lo, hi = d.zero_use_alert_hours
                t = t + (lo + rng.random(g.size) * (hi - lo)) * 60.0
            times.append(t)
            grids.append(g)
            kinds.append(np.full(g.size, k))
        lost = rng.poisson((self.sos.sum() * d.sos_true_rate + self.water.sum() * d.water_fall_rate + self.sensors.sum() * d.sensor_fault_rate) * (1 - a))
        self.missed += int(lost)
        return Alerts(np.concatenate(times), np.concatenate(grids).astype(np.int64), np.concatenate(kinds).astype(np.int64))
