"""The four Womento services; each is started with `python -m services.<name>`."""
