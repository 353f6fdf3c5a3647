"""Shared parts by use (issue 15): no engine imports another engine, no tab imports another engine or another tab,
and the shared parts of core/ (liveportrait, moda, wan, media, audio, jobs...) import no engine at all. Read from the
source with ast, so a lazy import inside a function counts too."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINES = sorted(p.name for p in (ROOT / "core" / "engines").iterdir() if (p / "__init__.py").is_file())


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _engines_named(imports: set[str]) -> set[str]:
    found = set()
    for name in imports:
        parts = name.split(".")
        if parts[:2] == ["core", "engines"] and len(parts) > 2:
            found.add(parts[2])
    return found


def _tabs_named(imports: set[str]) -> set[str]:
    return {name.split(".")[2] for name in imports if name.startswith("ui.tabs.") and len(name.split(".")) > 2}


def test_no_engine_imports_another_engine():
    offenders = []
    for engine in ENGINES:
        for path in (ROOT / "core" / "engines" / engine).rglob("*.py"):
            others = _engines_named(_imports(path)) - {engine}
            offenders += [f"{path.relative_to(ROOT)} -> core.engines.{o}" for o in sorted(others)]
    assert offenders == []


def test_no_tab_imports_another_engine_or_tab():
    offenders = []
    for path in (ROOT / "ui" / "tabs").glob("*.py"):
        own = path.stem
        imports = _imports(path)
        for other in sorted((_engines_named(imports) | _tabs_named(imports)) - {own}):
            offenders.append(f"{path.relative_to(ROOT)} -> {other}")
    assert offenders == []


def test_shared_parts_import_no_engine():
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "engines" or rel.name in ("engine.py",):
            continue
        offenders += [f"{rel} -> core.engines.{e}" for e in sorted(_engines_named(_imports(path)))]
    assert offenders == []


def test_the_checker_sees_a_lazy_cross_engine_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from core.engines.lipdub.models import load_unet\n")
    assert _engines_named(_imports(probe)) == {"lipdub"}
