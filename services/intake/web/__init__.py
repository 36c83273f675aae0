"""Intake's server-rendered web front: public form, participant portal, coordinator UI."""
