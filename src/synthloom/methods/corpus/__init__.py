"""Pretraining-corpus methods: rephrased web text (WRAP)."""
