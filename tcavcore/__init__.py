"""The method's core: TCAV and the checks of its findings, as plain functions over arrays."""
