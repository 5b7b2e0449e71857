"""Dialogs, dock widgets and map tools of the Displacement Toolkit."""
