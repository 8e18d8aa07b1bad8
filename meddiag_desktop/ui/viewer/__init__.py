"""Slice views, layers, overlays and measurement tools of the image viewer."""
