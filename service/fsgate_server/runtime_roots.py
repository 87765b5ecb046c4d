"""Computed runtime roots: what a helper must be able to read and execute just to run.

Every helper's sandbox grants, besides the request's effective policy, read and execute
(never write) access to the runtime roots (SPEC §5):

- the directory of the interpreter as started (``sys.executable``, e.g. a venv's
  ``bin/python`` symlink) *and* the directory of the real interpreter it resolves to;
- the standard library (``stdlib``, ``platstdlib``, ``lib-dynload``);
- the directories holding the packages the helper imports: ``fsgate``,
  ``fsgate_server`` and their dependencies (``RUNTIME_MODULES``). For a package this is
  the directory that *contains* it (site-packages, or ``client/`` / ``service/`` of a
  source checkout), never the project root;
- the directories of the shared libraries the interpreter has mapped executable
  (from ``/proc/self/maps``), and of the dynamic loader, under every name the kernel
  walks through to reach it (``/lib64/ld-linux-x86-64.so.2`` and its real location).

Each directory is listed both as found and symlink-resolved, because landlock judges
the resolved inode while bubblewrap binds names. Nothing else: only what was really
imported or mapped, only existing directories, only executable mappings (a data file
the server happened to mmap never makes its directory a runtime root), and never ``/``
(``ValueError``: granting the whole file system would void every policy).

A runtime root is granted to every helper whatever the request's policy says, so
``denied_paths`` cannot hide it. When a served root overlaps a runtime root (a source
checkout served as a workspace, a workspace ``.venv``), that part of the tree is
readable by every request; the server should warn or refuse at start-up.

``runtime_files`` are single files an exec'd interpreter reads at start-up outside the
roots: the venv's ``pyvenv.cfg`` (without it a venv interpreter loses its
site-packages) and ``/etc/ld.so.cache``. They are to be granted read-only, as files.

``RuntimeFacts.gather`` is the only function here that does I/O; the computation is pure.
"""

from __future__ import annotations

import functools
import importlib
import os
import posixpath
import struct
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fsgate_server.policy import is_within

__all__ = [
    "RUNTIME_MODULES",
    "RuntimeFacts",
    "compute_runtime_files",
    "compute_runtime_roots",
    "elf_interpreter",
    "executable_mappings",
    "runtime_files",
    "runtime_roots",
]

RUNTIME_MODULES = (
    "fsgate",
    "fsgate_server",
    "grpc",
    "google.protobuf",
    "google.rpc",
    "grpc_status",
    "structlog",
    "typing_extensions",
    "re2",  # Search's regex engine (google-re2; loads libstdc++)
    "pathspec",  # gitignore-style globs of Search and Glob
)
"""Modules whose containing directories are runtime roots; ones not installed are skipped."""

_MAX_SYMLINK_HOPS = 40  # Linux's own limit (MAXSYMLINKS)
_ELF_HEAD_BYTES = 64 * 1024  # PT_INTERP sits right after the program headers


@dataclass(frozen=True)
class RuntimeFacts:
    """Everything the runtime-root computation needs, gathered by one I/O function."""

    executable: str
    """``sys.executable`` as started; may be an alias such as a venv's ``bin/python``."""
    real_executable: str
    """``os.path.realpath(executable)``."""
    stdlib_dirs: tuple[str, ...]
    """sysconfig ``stdlib`` and ``platstdlib``, and the ``lib-dynload`` directory."""
    package_dirs: tuple[str, ...]
    """Directories containing the ``RUNTIME_MODULES`` packages, as imported and resolved."""
    library_dirs: tuple[str, ...]
    """Directories of executable mappings and of every name of the dynamic loader."""
    startup_files: tuple[str, ...] = ()
    """Files an exec'd interpreter reads at start-up: ``pyvenv.cfg``, ``/etc/ld.so.cache``."""

    @classmethod
    def gather(cls) -> RuntimeFacts:
        """Inspect this interpreter. The only I/O of this module.

        Imports the ``RUNTIME_MODULES`` first, so that their extension modules and the
        libraries those load are mapped by the time ``/proc/self/maps`` is read.
        """
        executable = sys.executable
        if not executable:
            raise RuntimeError("sys.executable is empty: cannot tell what a helper would run")
        executable = os.path.abspath(executable)
        real_executable = os.path.realpath(executable)

        package_dirs = _package_dirs(RUNTIME_MODULES)
        stdlib_dirs = _stdlib_dirs()

        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as maps:
            mapped = executable_mappings(maps.read())
        library_files = [path for path in mapped if os.path.isfile(path)]
        try:
            with open(real_executable, "rb") as image:
                interpreter = elf_interpreter(image.read(_ELF_HEAD_BYTES))
        except OSError:
            interpreter = None
        if interpreter is not None:
            library_files.extend(_symlink_hops(interpreter))
        library_dirs = _existing_dirs(os.path.dirname(path) for path in library_files)

        candidates = [
            os.path.join(os.path.dirname(executable), "pyvenv.cfg"),
            os.path.join(os.path.dirname(os.path.dirname(executable)), "pyvenv.cfg"),
            "/etc/ld.so.cache",
        ]
        startup_files = tuple(dict.fromkeys(p for p in candidates if os.path.isfile(p)))

        return cls(
            executable=executable,
            real_executable=real_executable,
            stdlib_dirs=stdlib_dirs,
            package_dirs=package_dirs,
            library_dirs=library_dirs,
            startup_files=startup_files,
        )


def compute_runtime_roots(facts: RuntimeFacts) -> tuple[str, ...]:
    """The runtime roots for ``facts``: normalized, de-duplicated, nested entries removed, sorted.

    Raises ``ValueError`` if a path is not absolute or if any root would be ``/``.
    """
    candidates = [
        posixpath.dirname(facts.executable),
        posixpath.dirname(facts.real_executable),
        *facts.stdlib_dirs,
        *facts.package_dirs,
        *facts.library_dirs,
    ]
    return _minimal(_checked(candidates))


def compute_runtime_files(facts: RuntimeFacts) -> tuple[str, ...]:
    """Start-up files not already inside a runtime root: normalized, de-duplicated, sorted."""
    roots = compute_runtime_roots(facts)
    files = {_lexical(path) for path in facts.startup_files}
    return tuple(sorted(f for f in files if not any(is_within(f, root) for root in roots)))


@functools.cache
def runtime_roots() -> tuple[str, ...]:
    """``compute_runtime_roots`` of this interpreter, computed once per process."""
    return compute_runtime_roots(_facts())


@functools.cache
def runtime_files() -> tuple[str, ...]:
    """``compute_runtime_files`` of this interpreter, computed once per process."""
    return compute_runtime_files(_facts())


def executable_mappings(maps: str) -> tuple[str, ...]:
    """Paths of the files mapped executable, from the text of ``/proc/<pid>/maps``.

    Skips anonymous and special mappings (``[vdso]``, ``/dev/...``, ``/memfd:...``) and
    files deleted since they were mapped.
    """
    found: dict[str, None] = {}
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or "x" not in fields[1]:
            continue
        path = fields[5]
        if (
            not path.startswith("/")
            or path.endswith(" (deleted)")
            or path.startswith(("/dev/", "/memfd:", "/SYSV"))
        ):
            continue
        found[path] = None
    return tuple(found)


def elf_interpreter(image: bytes) -> str | None:
    """The ``PT_INTERP`` path (dynamic loader) of an ELF image's head, or None.

    None for anything that is not ELF, has no interpreter (static binaries), or whose
    interpreter lies beyond the bytes given.
    """
    if image[:4] != b"\x7fELF" or len(image) < 6:
        return None
    elf_class, byte_order = image[4], image[5]
    if byte_order not in (1, 2) or elf_class not in (1, 2):
        return None
    end = "<" if byte_order == 1 else ">"
    try:
        if elf_class == 2:  # ELF64
            (phoff,) = struct.unpack_from(end + "Q", image, 0x20)
            phentsize, phnum = struct.unpack_from(end + "HH", image, 0x36)
            layout, offset_at, size_at = end + "IIQQQQQQ", 2, 5
        else:  # ELF32
            (phoff,) = struct.unpack_from(end + "I", image, 0x1C)
            phentsize, phnum = struct.unpack_from(end + "HH", image, 0x2A)
            layout, offset_at, size_at = end + "IIIIIIII", 1, 4
        for index in range(phnum):
            header = struct.unpack_from(layout, image, phoff + index * phentsize)
            if header[0] == 3:  # PT_INTERP
                start, size = header[offset_at], header[size_at]
                if start + size > len(image) or size == 0:
                    return None
                return os.fsdecode(image[start : start + size].rstrip(b"\x00"))
    except struct.error:
        return None
    return None


# --- internals -------------------------------------------------------------------------


@functools.cache
def _facts() -> RuntimeFacts:
    return RuntimeFacts.gather()


def _lexical(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"runtime path {path!r} is not absolute")
    normalized = posixpath.normpath(path)
    # POSIX lets "//x" mean something special; Linux does not, and "/" checks must see it.
    return "/" + normalized.lstrip("/")


def _checked(paths: Iterable[str]) -> list[str]:
    out = []
    for path in paths:
        normalized = _lexical(path)
        if normalized == "/":
            raise ValueError(
                f"runtime root {path!r} would grant the whole file system; refusing. "
                "Install the interpreter and packages in a directory of their own."
            )
        out.append(normalized)
    return out


def _minimal(paths: Iterable[str]) -> tuple[str, ...]:
    unique = sorted(set(paths), key=lambda p: p.split("/"))
    kept: list[str] = []
    for path in unique:  # in component order a subtree follows its root
        if kept and is_within(path, kept[-1]):
            continue
        kept.append(path)
    return tuple(sorted(kept))


def _existing_dirs(paths: Iterable[str]) -> tuple[str, ...]:
    """Each existing directory as given and symlink-resolved, in first-seen order."""
    found: dict[str, None] = {}
    for path in paths:
        if not path or not os.path.isdir(path):
            continue
        found[os.path.abspath(path)] = None
        found[os.path.realpath(path)] = None
    return tuple(found)


def _stdlib_dirs() -> tuple[str, ...]:
    # In a venv, sysconfig's platstdlib is spelled from the venv's own prefix, where it only
    # holds the venv's site-packages; the standard library lives under the base prefixes.
    paths = sysconfig.get_paths(
        vars={"installed_base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    )
    dirs = [paths["stdlib"], paths["platstdlib"]]
    # DESTSHARED is a build-time path; relocated builds (python-build-standalone) carry a
    # stale one, so sys.path is the authority and DESTSHARED only counts if it exists.
    dirs.extend(p for p in sys.path if posixpath.basename(p.rstrip("/")) == "lib-dynload")
    destshared = sysconfig.get_config_var("DESTSHARED")
    if isinstance(destshared, str):
        dirs.append(destshared)
    return _existing_dirs(dirs)


def _package_dirs(modules: Sequence[str]) -> tuple[str, ...]:
    """The directories that contain each module's top-level package, for those importable."""
    bases: list[str] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        depth = name.count(".") + 1
        # A package (regular or namespace, possibly split over several directories) has
        # __path__; a plain module only __file__, one level closer to its base.
        locations = list(getattr(module, "__path__", ()))
        if not locations and getattr(module, "__file__", None):
            locations, depth = [os.path.dirname(str(module.__file__))], depth - 1
        for location in locations:
            base = os.path.abspath(location)
            for _ in range(depth):
                base = os.path.dirname(base)
            bases.append(base)
    return _existing_dirs(bases)


def _symlink_hops(path: str) -> list[str]:
    """Every name the kernel passes through to open ``path``: the path, then each link target."""
    hops = [path]
    current = path
    for _ in range(_MAX_SYMLINK_HOPS):
        try:
            target = os.readlink(current)
        except OSError:
            break
        # Relative targets resolve against the link's real directory, not its spelling.
        current = posixpath.normpath(
            posixpath.join(os.path.realpath(os.path.dirname(current)), target)
        )
        hops.append(current)
    return hops
