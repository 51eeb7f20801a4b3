"""gridmarket: GIS grid marketing and market-space system for government & enterprise sales."""

__version__ = "0.1.0"
