"""Synthetic demo datasets."""
