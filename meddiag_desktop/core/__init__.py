"""Pure-numpy domain types: volumes, geometry, window/level, findings. Imports nothing of ours."""
