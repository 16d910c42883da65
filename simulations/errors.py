class SimulationError(ValueError):
    """Bad input to the simulator; the message says what is wrong and how to fix it."""
