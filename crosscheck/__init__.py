"""Independent routes for checking the project's own simulator and networks."""
