"""Test utilities shared by DFM's test suites; the fixtures come with the pytest plugin."""

from ._modules import importable, write_modules
from ._recorder import Recorder, Token

__all__ = ["Recorder", "Token", "importable", "write_modules"]
