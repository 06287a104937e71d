"""Agentic data methods: tool use and function calling, verified by executing the calls in the sandbox.

APIGen (``apigen.py`` and its three checks in ``apigen_checks.py``), APIGen-MT (``apigen_mt*.py``), ToolACE-style
API synthesis (``toolace.py``) and ToolAlpaca-style simulated tools (``toolalpaca.py``).
"""
