"""Adapters of the meteo example federation."""
