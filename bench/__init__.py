"""Scale measurements, run from the repository root with PYTHONPATH=. (each script's docstring gives its command)."""
