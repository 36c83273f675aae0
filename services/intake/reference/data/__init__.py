"""Data files of services.intake.reference (a package so that setuptools ships them)."""
