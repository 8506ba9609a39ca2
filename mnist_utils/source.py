"""Code shown in a notebook complete enough to copy into a fresh notebook and run."""

from __future__ import annotations

import ast
import inspect
import textwrap
from types import ModuleType
from typing import Callable

PACKAGE = __package__  # "mnist_utils"


def show_source(*functions: Callable) -> None:
    """Print the source of ``functions`` as code that runs on its own: first the imports and constants
    they use, then the series' own helpers (functions and classes) they call, each once and before
    its first use, then the functions themselves."""
    print(complete_source(*functions))


def complete_source(*functions: Callable) -> str:
    """The text that ``show_source`` prints."""
    imports: dict[str, None] = {}
    constants: dict[str, None] = {}
    ordered: list[Callable] = []

    visiting: set[Callable] = set()

    def visit(function: Callable) -> None:
        function = inspect.unwrap(function)
        if function in ordered or function in visiting:  # printed already, or a helper calling back
            return
        visiting.add(function)
        module = inspect.getmodule(function)
        bindings = _module_bindings(module)
        needs(_names_used(ast.parse(textwrap.dedent(inspect.getsource(function)))), module, bindings,
              skip={"show_source", function.__name__})
        ordered.append(function)

    def needs(names: list[str], module, bindings, skip: set[str]) -> None:
        """Record what ``names`` (read at the top level of ``module``) need: helpers, imports, constants."""
        for name in names:
            value = getattr(module, name, None)
            helper = inspect.unwrap(value) if callable(value) else None
            if (inspect.isfunction(helper) or inspect.isclass(helper)) and helper.__module__.startswith(PACKAGE):
                if name not in skip:
                    visit(value)
                continue
            kind, text = bindings.get(name, (None, None))
            if kind == "import":
                imports[text] = None
            elif kind == "constant" and text not in constants:
                constants[text] = None  # placed before what it needs is resolved: moved after it below
                needs(_names_used(ast.parse(text)), module, bindings, skip={name})
                constants[text] = constants.pop(text)  # after the constants it uses

    for function in functions:
        visit(function)
    header = sorted(imports, key=lambda line: (line.startswith("from"), line))
    parts = ["\n".join(header), "\n".join(constants)] + [inspect.getsource(f).rstrip() for f in ordered]
    return "\n\n\n".join(part for part in parts if part) + "\n"


def _names_used(tree: ast.AST) -> list[str]:
    """Every name that ``tree`` reads, in order of first use."""
    return list(dict.fromkeys(node.id for node in ast.walk(tree) if isinstance(node, ast.Name)))


def _module_bindings(module: ModuleType) -> dict[str, tuple[str, str]]:
    """Name -> ("import", the import line that binds it) or ("constant", its assignment), for the
    top level of ``module``. Imports within the package are written as absolute imports."""
    source = inspect.getsource(module)
    bindings: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bindings[alias.asname or alias.name.split(".")[0]] = ("import", line)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            origin = node.module or ""
            if node.level:  # from .data import x -> from mnist_utils.data import x
                origin = ".".join(part for part in (PACKAGE, origin) if part)
            for alias in node.names:
                line = f"from {origin} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bindings[alias.asname or alias.name] = ("import", line)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in target.elts if isinstance(target, ast.Tuple) else [target]:  # A, B = 1, 2
                    if isinstance(name, ast.Name):
                        bindings[name.id] = ("constant", ast.get_source_segment(source, node))
    return bindings
