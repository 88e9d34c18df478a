"""Walk-forward evaluation against naive baselines."""
