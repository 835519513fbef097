"""bcmod."""
