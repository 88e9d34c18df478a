"""Causal features (numpy only, shared by training and serving)."""
