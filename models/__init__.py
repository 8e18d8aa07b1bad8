"""The shipped models (``meddiag_desktop_models``): one ``<model-id>/`` folder each, found with importlib.resources."""
