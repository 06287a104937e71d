"""Tabular-data methods that use a model: MALLM-GAN (Ling et al. 2024), an LLM as the generator of a GAN-like
loop over a small real table. The classical baselines and the table interface are in :mod:`synthloom.tabular`."""
