"""Pyomo models solved with HiGHS: design (and the models built on it)."""

from gainshare.optimise.designer import Designer, DesignResult, design

__all__ = ["DesignResult", "Designer", "design"]
