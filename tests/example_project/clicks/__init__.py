"""Clicks per page, top pages per day: a small pipeline on luigi-ufo's base classes."""
