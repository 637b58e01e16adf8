"""The layer everything stands on: the model, configuration, journal and audit, files, errors and units.

Nothing here imports from any other hcitui package."""
