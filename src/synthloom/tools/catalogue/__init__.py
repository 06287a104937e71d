"""The bundled tool catalogue: one module per category, each a self-contained stdlib-only source file.

Every public function of a module here is one tool (its signature, type hints and Google-style docstring
become the tool's JSON schema); the module's ``CATEGORY`` names its category and ``data/`` holds the text
tables and SQL scripts the modules read. ``synthloom.tools.load_catalogue`` reads these files as text and
never imports them: their code runs only inside the sandbox (``synthloom.tools.executor``).
"""
