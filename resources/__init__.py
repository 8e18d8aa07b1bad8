"""The shipped demo study and its annotations as package data (``meddiag_desktop_resources``)."""
