"""Provider batch APIs (OpenAI Batch, Anthropic Message Batches) behind the ordinary model interface.

``provider.py`` is the contract a provider implements; ``layer.py`` is the layer that collects a
run's concurrent requests into batches, journals them in ``.state/`` and resolves each call.
"""
