"""Coverage-guided fuzz targets (atheris) and what they share with the hypothesis properties."""
