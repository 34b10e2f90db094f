"""The package's import graph: no module import cycles, and no import from a lower layer to a higher
one. Every import counts, lazy ones inside functions included: a cycle hidden in a function is still
a cycle. Run `python tests/test_layers.py` for the numbers (cycles, upward imports, largest files)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "moshi_mlx"

# Layers, lowest first: a module may import its own layer and the ones below, never above.
# The first matching prefix decides (more specific prefixes first).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("moshi_mlx", "moshi_mlx.errors", "moshi_mlx.paths", "moshi_mlx.jsonfile",
              "moshi_mlx.npyfile", "moshi_mlx.config_check", "moshi_mlx.interrupts",
              "moshi_mlx.text", "moshi_mlx.partial", "moshi_mlx.device", "moshi_mlx.outputs",
              "moshi_mlx.audio_io", "moshi_mlx.audio", "moshi_mlx.kinds",
              "moshi_mlx.sampling_defaults")),
    ("model", ("moshi_mlx.mimi", "moshi_mlx.lm", "moshi_mlx.quantize", "moshi_mlx.vis")),
    ("files", ("moshi_mlx.model_folder", "moshi_mlx.known_models", "moshi_mlx.hub",
               "moshi_mlx.demo")),
    ("engine", ("moshi_mlx.engine",)),
    ("features", ("moshi_mlx.stt", "moshi_mlx.tts", "moshi_mlx.hibiki", "moshi_mlx.personas",
                  "moshi_mlx.assistant", "moshi_mlx.tools", "moshi_mlx.vis.setup",
                  "moshi_mlx.vis.demo")),
    ("front", ("moshi_mlx.serve", "moshi_mlx.bench", "moshi_mlx.talk", "moshi_mlx.cli",
               "moshi_mlx.hub_cli", "moshi_mlx.selftest", "moshi_mlx.__main__")),
]
# A command-line module inside a feature package (`stt/listen_cli.py`, `tts/cli.py`, ...) is the
# front layer wherever it sits. The engine package holds no command (the talk commands live in
# `talk/`); its one `_cli` module is the shared option parsing the commands import.
FRONT_SUFFIXES = ("cli", "_cli", "bench")
ENGINE_CLI_HELPERS = {"moshi_mlx.engine.options_cli"}


def module_files() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError:  # a broken module is the import tests' business, not this graph's
            continue
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = (_resolve(module, is_package, node.level, node.module) if node.level
                          else node.module or "")
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in files]
                targets = subs if len(subs) == len(node.names) else [target] + subs
            for t in targets:
                while t and t not in files and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in files and t != module:
                    graph[module].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> int:
    if module.rsplit(".", 1)[-1].endswith(FRONT_SUFFIXES):
        return len(LAYERS) - 1
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((m, t) for m, ts in graph.items() for t in ts
                  if t != PACKAGE and layer_of(t) > layer_of(m))


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles among moshi_mlx modules:\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_no_upward_imports():
    found = upward_imports(import_graph())
    assert not found, "imports from a lower layer to a higher one:\n" + "\n".join(
        f"{m} ({LAYERS[layer_of(m)][0]}) -> {t} ({LAYERS[layer_of(t)][0]})" for m, t in found)


def test_the_engine_holds_no_command():
    engine_fronts = sorted(m for m in module_files() if m.startswith("moshi_mlx.engine.")
                           and layer_of(m) == len(LAYERS) - 1 and m not in ENGINE_CLI_HELPERS)
    assert not engine_fronts, f"command modules inside moshi_mlx/engine (move them to talk/): {engine_fronts}"


def test_an_engine_module_importing_a_command_or_a_feature_is_caught():
    """The checker itself: the imports the engine must never make are reported as upward."""
    bad = {"moshi_mlx.engine.conversation": {"moshi_mlx.personas.store", "moshi_mlx.talk.chat_cli",
                                             "moshi_mlx.personas.cli", "moshi_mlx.tts.synth",
                                             "moshi_mlx.engine.options_cli"},
           "moshi_mlx.engine.core": {"moshi_mlx.kinds", "moshi_mlx.lm"}}
    assert upward_imports(bad) == [("moshi_mlx.engine.conversation", t) for t in sorted(
        bad["moshi_mlx.engine.conversation"])]


def test_every_module_has_a_layer():
    for m in import_graph():
        layer_of(m)


if __name__ == "__main__":
    g = import_graph()
    c = cycles(g)
    print(f"modules: {len(g)}, import edges: {sum(len(v) for v in g.values())}")
    print(f"import cycles: {len(c)}")
    for comp in c:
        print("  " + " <-> ".join(comp))
    up = upward_imports(g)
    print(f"upward imports: {len(up)}")
    for m, t in up:
        print(f"  {m} -> {t}")
    sizes = sorted(((len(p.read_text().splitlines()), m) for m, p in module_files().items()),
                   reverse=True)
    print("largest files:", ", ".join(f"{m} {n}" for n, m in sizes[:8]))
