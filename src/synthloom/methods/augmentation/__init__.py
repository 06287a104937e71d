"""Augmentation of small labelled sets: rephrasing (AugGPT), counterfactuals (DISCO), translation (Self-Translate-Train)."""
