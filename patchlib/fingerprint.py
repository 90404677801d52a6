"""Fingerprints of the code a record was computed with: definitions, not files.

A record's fingerprint maps the name of every definition its computation can reach to a digest of
that definition's normalised source: its AST without docstrings, comments or formatting. The
definitions are collected automatically, starting from the piece's compute function (and the
registered models its configuration names) and following every name it uses, through imports,
inside `patchlib` (`closure`). A class counts whole, methods included; a module-level constant
counts as its assignment; type annotations are followed too (a config class's methods compute).
The caching layer is not followed (`NOT_FOLLOWED`).

Names are keyed without their module, so moving a definition to another module, splitting a file
or editing a docstring leaves every fingerprint unchanged, while changing a constant or an
expression changes the digest of the definition that holds it (`stale_definitions` names it). One
change of a constant is not one for the records computed before it: a registry (a dict literal such
as PROFILES or a chapter's SIZES) that only gained entries (`registry_digests`), as when a profile is
added.

    python -m patchlib.fingerprint migrate [--check] [CHAPTER ...]

re-fingerprints the committed records of file-fingerprinted schemas: it loads each chapter's
stored records (never computing), takes each piece's definitions at HEAD, and checks each against
the source at the record's recorded revision (`git show <rev>:<file>`). A definition counts as
unchanged when the revision holds one of the same name and the same normalised source, or, for a
compute function lifted out of an enclosing function, the same name and statement-for-statement
the same body (its former free variables become its parameters). Only records whose every
definition is unchanged are re-stamped; the others are listed, and stay stale.
"""
from __future__ import annotations

import ast
import fnmatch
import functools
import hashlib
import itertools
import subprocess
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

PACKAGE = "patchlib"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent

# The caching layer decides whether a record is computed and where it is kept, not what it holds:
# its code is not followed (nor a chapter's `context()`, which only resolves run parameters into
# a ChapterRun). What it hands a piece is fingerprinted all the same, through the record's entries
# (data loading, a chapter's preprocessing) and its config hash (sizes, seeds). Patterns as fnmatch.
NOT_FOLLOWED = ("patchlib.results", "patchlib.fingerprint", "patchlib.experiments.common.ChapterRun",
                "patchlib.experiments.*.context")


# --- normalised source -------------------------------------------------------------------------

class _StripDocstrings(ast.NodeTransformer):
    def visit_ImportFrom(self, node):
        # A lazy import names where a definition lives, which a move changes; what it imports is
        # followed by the closure anyway. Keep the names, drop the path (`from ..data import x`).
        if node.level or (node.module or "").startswith(PACKAGE):
            return ast.ImportFrom(module=None, names=node.names, level=0)
        return node

    def _strip(self, node):
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _strip


def normalised(node: ast.AST) -> str:
    """The AST of `node` as text, without docstrings, comments, formatting, line numbers or the
    module paths of package-internal imports inside it."""
    node = _StripDocstrings().visit(ast.parse(ast.unparse(node)))  # a copy: the index's trees stay intact
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def body_digest(node: ast.AST) -> str | None:
    """Digest of a function's decorators and body alone (name and parameters left out), None for
    anything else: what stays the same when a nested compute function is lifted to module level."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    copy = ast.parse(ast.unparse(node)).body[0]
    copy.name, copy.args, copy.returns = "_", ast.arguments([], [], None, [], [], None, []), None
    return digest(normalised(copy))


# A registry that only gained entries (a new profile in PROFILES, a new profile's sizes in a chapter's
# SIZES) is unchanged for the records computed before: they looked up entries that are all still there,
# unchanged. Up to this many added entries are recognised (the variants tried grow as n choose k).
REGISTRY_ADDITIONS = 3


def registry_digests(node: ast.AST) -> frozenset[str]:
    """Digests of a module-level `NAME = {...}` (or annotated) assignment of a dict literal with 1 to
    REGISTRY_ADDITIONS of its entries removed, order kept; empty for any other statement."""
    value = getattr(node, "value", None)
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or not isinstance(value, ast.Dict) \
            or any(key is None for key in value.keys):  # a `**other` entry: not a plain registry
        return frozenset()
    digests = set()
    n = len(value.keys)
    for removed in range(1, min(REGISTRY_ADDITIONS, n - 1) + 1):
        for left_out in itertools.combinations(range(n), removed):
            copy = ast.parse(ast.unparse(node)).body[0]
            kept = [i for i in range(n) if i not in left_out]
            copy.value.keys = [copy.value.keys[i] for i in kept]
            copy.value.values = [copy.value.values[i] for i in kept]
            digests.add(digest(normalised(copy)))
    return frozenset(digests)


# --- the index of a source tree ---------------------------------------------------------------

@dataclass
class Definition:
    module: str
    name: str          # qualified inside its module: "train", "ChapterRun", "run.<locals>.compute"
    node: ast.AST

    @functools.cached_property
    def digest(self) -> str:
        return digest(normalised(self.node))

    @functools.cached_property
    def body_digest(self) -> str | None:
        return body_digest(self.node)

    @functools.cached_property
    def registry_digests(self) -> frozenset[str]:
        """For a registry (a module-level dict literal: a chapter's SIZES, the PROFILES), the digests
        of the same assignment with up to `REGISTRY_ADDITIONS` of its entries left out: what it was
        before those entries were added (`registry_only_grew`). Empty for anything else."""
        return registry_digests(self.node)

    @property
    def key(self) -> str:
        return self.name.rsplit(".", 1)[-1] if "<locals>" in self.name else self.name


@dataclass
class Module:
    name: str
    is_package: bool
    definitions: dict[str, Definition] = field(default_factory=dict)   # top-level, by name
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local -> (module, name or None)
    nested: list[Definition] = field(default_factory=list)              # functions inside functions


def _top_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module statements, looking inside top-level if/try blocks (guarded imports and definitions)."""
    for statement in body:
        if isinstance(statement, (ast.If, ast.Try)):
            for block in (statement.body, getattr(statement, "orelse", []), getattr(statement, "finalbody", []),
                          *[handler.body for handler in getattr(statement, "handlers", [])]):
                yield from _top_level_statements(block)
        else:
            yield statement


def _assigned_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _assigned_names(element)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def _not_followed(definition: "Definition") -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in NOT_FOLLOWED
               for name in (definition.module, f"{definition.module}.{definition.name}"))


def parse_module(name: str, source: str, is_package: bool) -> Module:
    module = Module(name, is_package)
    tree = ast.parse(source)
    for statement in _top_level_statements(tree.body):
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            module.definitions[statement.name] = Definition(name, statement.name, statement)
            if not isinstance(statement, ast.ClassDef):
                module.nested += [Definition(name, f"{statement.name}.<locals>.{inner.name}", inner)
                                  for inner in ast.walk(statement) if inner is not statement
                                  and isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef))]
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                for assigned in _assigned_names(target):
                    if assigned != "__all__":
                        module.definitions[assigned] = Definition(name, assigned, statement)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    module.imports[alias.asname] = (alias.name, None)
                else:  # `import a.b` binds `a`
                    module.imports[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        elif isinstance(statement, ast.ImportFrom):
            source_module = (_resolve_relative(name, is_package, statement.level, statement.module)
                             if statement.level else statement.module or "")
            for alias in statement.names:
                if alias.name != "*":
                    module.imports[alias.asname or alias.name] = (source_module, alias.name)
    return module


class SourceIndex:
    """Every module of the `patchlib` package, parsed: from the files here or from a git revision."""

    def __init__(self, sources: dict[str, tuple[str, bool]]):
        """`sources`: module name -> (source text, is_package)."""
        self.modules = {}
        for name, (text, is_package) in sources.items():
            try:
                self.modules[name] = parse_module(name, text, is_package)
            except SyntaxError:  # a module that cannot be parsed cannot be imported: no computation reaches it
                continue
        self._by_key: dict[str, list[Definition]] | None = None

    @classmethod
    def from_directory(cls, package_dir: Path = PACKAGE_DIR, package: str = PACKAGE) -> "SourceIndex":
        sources = {}
        for path in sorted(Path(package_dir).rglob("*.py")):
            relative = path.relative_to(package_dir).with_suffix("")
            parts = [package, *relative.parts]
            is_package = parts[-1] == "__init__"
            sources[".".join(parts[:-1] if is_package else parts)] = (path.read_text(), is_package)
        return cls(sources)

    @classmethod
    def from_git(cls, revision: str, root: Path = REPO_ROOT, package: str = PACKAGE) -> "SourceIndex":
        def git(*args) -> str:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout

        sources = {}
        for path in git("ls-tree", "-r", "--name-only", revision, "--", package).split():
            if path.endswith(".py"):
                parts = path[:-3].split("/")
                is_package = parts[-1] == "__init__"
                sources[".".join(parts[:-1] if is_package else parts)] = (git("show", f"{revision}:{path}"), is_package)
        return cls(sources)

    # -- name resolution --
    def resolve(self, module: str, name: str, _seen=None) -> Definition | str | None:
        """What `name` means in `module`: a Definition, a module name (str), or None (outside)."""
        seen = _seen or set()
        if (module, name) in seen:
            return None
        seen.add((module, name))
        found = self.modules.get(module)
        if found is None:
            return None
        if name in found.definitions:
            return found.definitions[name]
        if name in found.imports:
            source, imported = found.imports[name]
            if imported is None:
                return source if source in self.modules else None
            if f"{source}.{imported}" in self.modules and imported not in self.modules.get(source, Module("", False)).definitions:
                return f"{source}.{imported}"
            return self.resolve(source, imported, seen)
        if f"{module}.{name}" in self.modules:  # a submodule reached as an attribute of its package
            return f"{module}.{name}"
        return None

    def _references(self, definition: Definition) -> Iterator[Definition]:
        # Imports inside the definition (lazy imports) bind names for its body.
        local = parse_module(definition.module, ast.unparse(ast.Module(
            [n for n in ast.walk(definition.node) if isinstance(n, (ast.Import, ast.ImportFrom))], [])),
            self.modules[definition.module].is_package).imports if definition.module in self.modules else {}
        for node in ast.walk(definition.node):
            chain = []
            while isinstance(node, ast.Attribute):
                chain.append(node.attr)
                node = node.value
            if not isinstance(node, ast.Name):
                continue
            if node.id in local:
                source, imported = local[node.id]
                target = (source if source in self.modules else None) if imported is None else (
                    f"{source}.{imported}" if f"{source}.{imported}" in self.modules
                    and imported not in self.modules[source].definitions else self.resolve(source, imported))
            else:
                target = self.resolve(definition.module, node.id)
            for attribute in reversed(chain):
                if not isinstance(target, str):
                    break
                target = self.resolve(target, attribute)
            if isinstance(target, Definition) and not _not_followed(target):
                yield target

    def closure(self, entries: Iterable[Definition]) -> dict[str, str]:
        """name -> digest of every definition reachable from `entries` (see the module docstring).
        Two reached definitions of one name are told apart by a suffix ("Size", "Size~2")."""
        reached: dict[tuple[str, str], Definition] = {}
        todo = list(entries)
        while todo:
            definition = todo.pop()
            key = (definition.module, definition.name)
            if key in reached:
                continue
            reached[key] = definition
            todo.extend(self._references(definition))
        by_name: dict[str, list[str]] = {}
        for definition in reached.values():
            by_name.setdefault(definition.key, []).append(definition.digest)
        fingerprint = {}
        for name, digests in by_name.items():
            for i, value in enumerate(sorted(digests)):
                fingerprint[name if i == 0 else f"{name}~{i + 1}"] = value
        return dict(sorted(fingerprint.items()))

    # -- look-ups by name, for staleness and migration --
    def by_key(self) -> dict[str, list[Definition]]:
        if self._by_key is None:
            self._by_key = {}
            for module in self.modules.values():
                for definition in [*module.definitions.values(), *module.nested]:
                    self._by_key.setdefault(definition.key, []).append(definition)
        return self._by_key

    def has(self, name: str, value: str) -> bool:
        """Whether a definition called `name` (suffix "~k" ignored) has digest `value` here, or is a
        registry that only gained entries since it had (`registry_digests`)."""
        candidates = self.by_key().get(name.split("~")[0], [])
        return any(d.digest == value for d in candidates) or any(value in d.registry_digests for d in candidates)

    def counterpart(self, definition: Definition) -> Definition | None:
        """The definition of this index that `definition` was moved or lifted from, if any."""
        candidates = self.by_key().get(definition.key, [])
        for candidate in candidates:
            if candidate.digest == definition.digest:
                return candidate
        if definition.body_digest is not None:
            for candidate in candidates:
                if candidate.body_digest == definition.body_digest:
                    return candidate
        return None

    def definition_of(self, obj) -> Definition | None:
        """The Definition of a live function or class of this package (a nested one: its enclosing
        top-level definition, whose source holds it)."""
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if not module or not qualname or module not in self.modules:
            return None
        return self.modules[module].definitions.get(qualname.split(".")[0])


# --- live entry points -------------------------------------------------------------------------

def callable_entries(index: SourceIndex, fn) -> list[Definition]:
    """The definitions a live callable starts from: a functools.partial's function and any
    callables among its arguments, a bound method's function, or the function itself."""
    if isinstance(fn, functools.partial):
        entries = callable_entries(index, fn.func)
        for argument in [*fn.args, *fn.keywords.values()]:
            if isinstance(argument, (types.FunctionType, functools.partial)):
                entries += callable_entries(index, argument)
        return entries
    if isinstance(fn, types.MethodType):
        return callable_entries(index, fn.__func__)
    qualname = getattr(fn, "__qualname__", "")
    if isinstance(fn, types.FunctionType) and qualname.endswith("<lambda>"):
        # A lambda: the module-level names it calls, and the functions it closes over.
        module = index.modules.get(fn.__module__)
        entries = [target for name in fn.__code__.co_names if module is not None
                   for target in [index.resolve(module.name, name)] if isinstance(target, Definition)]
        for cell in fn.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, (types.FunctionType, functools.partial)):
                entries += callable_entries(index, value)
        return entries
    if "<locals>" in qualname and fn.__module__ in index.modules:  # a nested function: its own source
        for definition in index.modules[fn.__module__].nested:
            if definition.name == qualname:
                return [definition]
    definition = index.definition_of(fn)
    return [definition] if definition else []


def registered_model_names(config) -> set[str]:
    """Strings anywhere in a record's configuration that name a registered model."""
    from .models.registry import list_models

    known = set(list_models())
    found = set()

    def walk(value):
        if isinstance(value, str) and value in known:
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(config)
    return found


@functools.lru_cache(maxsize=1)
def current_index() -> SourceIndex:
    """The package as it is on disk now (parsed once per process)."""
    return SourceIndex.from_directory()


def record_entries(index: SourceIndex, compute: Callable, config: dict, extra: Iterable[Callable] = ()) -> list[Definition]:
    """Where a record's computation starts: its compute callable, the callables in `extra` (data
    loading, a chapter's preprocessing) and the registered models its configuration names."""
    from .models.registry import _MODELS

    entries = callable_entries(index, compute)
    for fn in extra:
        if fn is not None:
            entries += callable_entries(index, fn)
    for name in sorted(registered_model_names(config)):
        entries += callable_entries(index, _MODELS[name])
    return entries  # code outside the package (a test's lambda) is not fingerprinted


def fingerprint_record(compute: Callable, config: dict, extra: Iterable[Callable] = (),
                       index: SourceIndex | None = None) -> dict[str, str]:
    """The definitions fingerprint of one record (see the module docstring)."""
    index = index or current_index()
    return index.closure(record_entries(index, compute, config, extra))


def stale_definitions(fingerprint: dict[str, str], index: SourceIndex | None = None) -> list[str]:
    """Names of `fingerprint` whose definition has changed (or is gone) in `index` (default: now)."""
    index = index or current_index()
    return [name for name, value in fingerprint.items() if not index.has(name, value)]


def unverified(entries_index: SourceIndex, fingerprint_entries: list[Definition], old: SourceIndex) -> list[str]:
    """Definitions reachable from `fingerprint_entries` (in `entries_index`) with no counterpart in `old`."""
    reached: dict[tuple[str, str], Definition] = {}
    todo = list(fingerprint_entries)
    while todo:
        definition = todo.pop()
        if (definition.module, definition.name) in reached:
            continue
        reached[(definition.module, definition.name)] = definition
        todo.extend(entries_index._references(definition))
    return sorted(f"{d.module}.{d.name}" for d in reached.values() if old.counterpart(d) is None)


# --- re-fingerprinting stored records ----------------------------------------------------------

@dataclass
class Migration:
    """Re-stamps stored records of file fingerprints with definition fingerprints (see the module
    docstring); with `check`, only reports. Active inside `patchlib.experiments.common.migrating`."""

    check: bool = False
    root: Path = REPO_ROOT
    lines: list[str] = field(default_factory=list)
    failed: int = 0
    done: int = 0
    _old: dict[str, SourceIndex] = field(default_factory=dict)

    def old_index(self, revision: str) -> SourceIndex:
        if revision not in self._old:
            self._old[revision] = SourceIndex.from_git(revision, self.root)
        return self._old[revision]

    def _fail(self, path: Path, why: str) -> None:
        self.failed += 1
        self.lines.append(f"UNVERIFIED {path.name}: {why}")

    def visit(self, path: Path, record: dict, compute: Callable, extra: Iterable[Callable] = ()) -> dict:
        """Check (and unless `check`, re-stamp) the stored `record` at `path`; returns the record."""
        from .results import SCHEMA_VERSION, write_json_atomic

        provenance = record["provenance"]
        if "definitions" in provenance:
            return record
        revision, dirty = provenance.get("git_revision", "unknown"), provenance.get("dirty_files", [])
        if revision == "unknown" or dirty or not provenance.get("code"):
            self._fail(path, f"computed at revision {revision!r} with changed files {dirty}: its source is not in git")
            return record
        try:
            old = self.old_index(revision)
            for name, value in provenance["code"].items():  # the recorded files are the revision's files
                blob = subprocess.run(["git", "show", f"{revision}:{name}"], cwd=self.root, capture_output=True,
                                      check=True).stdout
                if hashlib.sha256(blob).hexdigest()[:16] != value:
                    self._fail(path, f"{name} at {revision[:12]} is not the file the record was computed with")
                    return record
        except subprocess.CalledProcessError as error:
            self._fail(path, f"revision {revision[:12]} cannot be read from git ({error.stderr.strip()[:200]})")
            return record
        index = current_index()
        entries = record_entries(index, compute, record["config"], extra)
        missing = unverified(index, entries, old)
        if missing:
            self._fail(path, f"{len(missing)} definition(s) differ from revision {revision[:12]}: {', '.join(missing)}")
            return record
        definitions = index.closure(entries)
        self.done += 1
        self.lines.append(f"verified {path.name}: {len(definitions)} definitions as at {revision[:12]}")
        if self.check:
            return record
        provenance = {key: value for key, value in provenance.items() if key != "code"}
        provenance["definitions"] = definitions
        provenance["refingerprinted"] = {
            "from_revision": revision,
            "rule": "every definition reached at re-fingerprinting equals (or is lifted verbatim from) its source "
                    "at from_revision; nothing was recomputed"}
        record = record | {"schema": SCHEMA_VERSION, "provenance": provenance}
        write_json_atomic(path, record)
        return record


def main(argv: list[str] | None = None) -> int:
    """`python -m patchlib.fingerprint migrate [--check] [--profile P] [CHAPTER ...]`"""
    import argparse
    import importlib

    from .chapters import NAMES
    from .experiments.common import migrating

    parser = argparse.ArgumentParser(prog="python -m patchlib.fingerprint", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="re-fingerprint stored records of file fingerprints (never recomputes)")
    migrate.add_argument("chapters", nargs="*", metavar="CHAPTER", help=f"default: all of {', '.join(NAMES)}")
    migrate.add_argument("--check", action="store_true", help="report only; write nothing")
    migrate.add_argument("--profile", default="cpu")
    migrate.add_argument("--results-dir", default=None)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.chapters) - set(NAMES))
    if unknown:
        parser.error(f"unknown chapter(s) {', '.join(unknown)}; the chapters are: {', '.join(NAMES)}")
    migration = Migration(check=args.check)
    for chapter in args.chapters or NAMES:
        module = importlib.import_module(f"patchlib.experiments.{chapter}")
        with migrating(migration):
            module.run(args.profile, results_dir=args.results_dir, progress=False)
    print("\n".join(migration.lines))
    print(f"{migration.done} record(s) verified, {migration.failed} unverified"
          + (" (check only: nothing written)" if args.check else ""))
    return 1 if migration.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
