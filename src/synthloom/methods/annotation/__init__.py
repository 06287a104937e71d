"""Annotation methods: an LLM labels a text set and is measured against human labels."""
