"""The only package that imports PySide6: main window shell, controllers, widgets, workers."""
