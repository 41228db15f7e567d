"""Settings: where each one comes from, and which sources may set it."""
