"""Weeks of simulated hourly operation of the real pipeline against a demo shop whose customers react.

``python -m lifecycle simulate --days 28`` (or ``python -m lifecycle.simulate``); see docs/simulation.md.
No Airflow imports: the hours call the same library functions the DAG tasks call.
"""

from lifecycle.simulate.engine import Simulation, SimulationConfig, SimulationResult, default_end

__all__ = ["Simulation", "SimulationConfig", "SimulationResult", "default_end"]
