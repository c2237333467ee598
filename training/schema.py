"""The data contract of a labeled occupancy reading: column names, units, physical ranges, and the physics
that ties HumidityRatio to Temperature and Humidity.

A leaf module (numpy only): the reader, the validation, the features and the serving engine all take their column
names and ranges from here, so there is one definition of a valid reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

TIMESTAMP = "date"
LABEL = "Occupancy"
FEATURES = ("Temperature", "Humidity", "Light", "CO2", "HumidityRatio")
COLUMNS = (TIMESTAMP, *FEATURES, LABEL)  # the exact header of a labeling-session CSV
SLICES = ("day", "night", "weekday", "weekend")  # what the gate scores a model on besides all rows (evaluate.py)
# One plausible minute of an occupied office (Feb 4 2015, 17:51 in the UCI data): the request the canary probe
# sends a new version before it gets traffic, and the one the demo asks the endpoint.
EXAMPLE_READING = {"Temperature": 23.2, "Humidity": 27.27, "Light": 426.0, "CO2": 721.25, "HumidityRatio": 0.00479}

ATMOSPHERIC_PRESSURE_PA = 101_325.0


def minute_key(stamp: datetime) -> str:
    """The minute a reading belongs to, as "2015-02-05T10:01": the key that joins a served reading to its label
    when a later labeling session arrives. Rounded like the reader rounds stamps (some end in :59)."""
    return (stamp + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class Sensor:
    name: str
    unit: str
    low: float  # physically plausible range for an office (wire protocol of the labeling tool: these units)
    high: float


SENSORS: dict[str, Sensor] = {
    sensor.name: sensor
    for sensor in (
        Sensor("Temperature", "°C", 10.0, 35.0),
        Sensor("Humidity", "% RH", 0.0, 100.0),
        Sensor("Light", "lux", 0.0, 2000.0),
        Sensor("CO2", "ppm", 300.0, 5000.0),
        Sensor("HumidityRatio", "kg water / kg air", 0.001, 0.012),
    )
}


def humidity_ratio(temperature_c: npt.ArrayLike, relative_humidity: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """kg of water vapour per kg of dry air at sea level, from the Magnus saturation pressure.

    The data set's own HumidityRatio matches this to within 0.3 % on every row, so a larger mismatch means a
    swapped column or a unit change in Temperature or Humidity."""
    temperature = np.asarray(temperature_c, dtype=np.float64)
    saturation_pa = 611.2 * np.exp(17.62 * temperature / (243.12 + temperature))
    vapour_pa = np.asarray(relative_humidity, dtype=np.float64) / 100.0 * saturation_pa
    result: npt.NDArray[np.float64] = 0.622 * vapour_pa / (ATMOSPHERIC_PRESSURE_PA - vapour_pa)
    return result
