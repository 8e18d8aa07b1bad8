"""Small modal dialogs (module functions, so tests can replace them)."""
