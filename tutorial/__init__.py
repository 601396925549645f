"""Helpers for the Async Django, hands-on notebooks: start the site, fire load, plot, check."""
