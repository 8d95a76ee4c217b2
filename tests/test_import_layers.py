"""Package layering: the import-linter contracts of ``pyproject.toml`` hold.

The packages of snncc import in one direction (errors/units -> ir -> passes -> backends
-> runtime -> frontend -> io/cli, see ``[tool.importlinter]``); a function-level import
counts like any other. ``snncc.kernels`` lives in the top-level ``kernels/`` directory,
outside the tree import-linter reads, so its own imports are checked here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# import-linter's command, run by this interpreter (no cache directory left behind)
LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, "
        "no_logo=True))")


def test_import_contracts_hold() -> None:
    r = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert "No module named 'importlinter'" not in r.stderr, \
        "import-linter is missing: pip install -e '.[test]'"
    assert r.returncode == 0, f"import-linter contracts broken:\n{r.stdout}\n{r.stderr}"
    assert "BROKEN" not in r.stdout and "KEPT" in r.stdout, r.stdout


def test_kernels_import_nothing_else_of_snncc() -> None:
    """The hand-written Triton primitives sit at the bottom with the IR: they import no
    other snncc package."""
    bad = []
    for path in sorted((ROOT / "kernels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level \
                else []
            bad += [f"{path.name}:{node.lineno}: {n}" for n in names
                    if n.split(".")[0] == "snncc" and not n.startswith("snncc.kernels")]
    assert not bad, "kernels/ imports other snncc packages:\n" + "\n".join(bad)
