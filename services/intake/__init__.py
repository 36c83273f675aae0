"""The intake service: the front door, and the only home of personal data."""
