"""The TCAV method's core: plain functions over arrays."""
