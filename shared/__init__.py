"""Contracts and plumbing shared by every Womento service.

Nothing in this package connects to anything at import time: factories take a
`Settings` object and are called from each service's composition root.
"""
