"""Adversarial suite: one module per family of hostile input or fault (issue #15)."""
