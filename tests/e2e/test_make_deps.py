"""`make deps` installs every external program the tests and benchmarks run.

A fresh Debian machine must pass `make test`: a tool a test calls that `make deps` does not
install fails there and nowhere else (tcpdump did). This scans tests/e2e/*.py, bench/*.py,
bench/*.sh and fuzz/ (what `make test`, `make bench` and `make fuzz` run) for the programs
they invoke, resolves each to the Debian package that owns it (`dpkg -S`) or, for the
repository's virtualenv, to the PyPI distribution that provides it, and fails naming the
tool and its package when the Makefile does not install it.

Invocations found (a literal program name is needed; names computed at run time, such as
the repository's own binaries, are not external tools):
- every name given to `require_tools(...)`;
- the first element of a list given to `subprocess.run/Popen/...`, directly, through
  `*args`, or through a variable assigned a list literal in the same file;
- the first argument of `sh(...)`, and the program after the namespace in `lab.run(ns, ...)`
  and `lab.spawn(ns, ...)` (any `<x>.run` / `<x>.spawn` with a namespace first);
- a path built as `<...> / ".venv" / "bin" / "<tool>"`, or a call with a literal name to a
  helper that builds such a path from its parameter: a PyPI tool;
- in shell scripts, the first word of each command (after `|`, `&&`, `||`, `;`, `$(`,
  `<(`, leading assignments and keywords) and the name after `command -v`, except builtins
  and the script's own functions.

Pure Python, no network: dpkg's database and the virtualenv's metadata are read locally.
Packages every Debian system has (Essential: yes, or Priority: required) need not be listed;
a package counts as installed by `make deps` when it is in APT_PACKAGES or is pulled in by
one of them through Depends/Pre-Depends (make deps installs without recommends).
"""
import ast
import os
import platform
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"
VENV = ROOT / ".venv"
SCANNED = sorted([*ROOT.glob("tests/e2e/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("bench/*.sh"),
                  *ROOT.glob("fuzz/*.py"), *ROOT.glob("fuzz/*.sh")])
# Where Debian packages put programs: a tool found only elsewhere on this machine's PATH
# (pyenv, /opt, /usr/local) is not one a fresh machine gets from `make deps`.
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SWIFT_TOOLCHAIN = {"swift", "swiftc", "clang"}
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}
SHELL_BUILTINS = {
    "set", "cd", "echo", "exit", "trap", "local", "shift", "read", "printf", "[", "[[", "test", "true", "false",
    "return", "export", "source", ".", "eval", "exec", "wait", "type", "declare", "break", "continue", "unset",
    "command", "pwd", "kill", "readonly", "getopts", "let", "ulimit", "umask", "builtin", ":",
}
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac",
                  "function", "!", "{", "}", "time", "select"}
LOOP_HEADS = {"for", "case", "select"}


# --- what the Makefile installs ---

def makefile_list(name):
    """A `NAME := a b \\ c` variable of the Makefile, as a list of words."""
    text = MAKEFILE.read_text()
    match = re.search(rf"^{name}\s*:?=\s*((?:.*\\\n)*.*)$", text, re.M)
    assert match, f"{name} is not set in the Makefile"
    return match.group(1).replace("\\\n", " ").split()


# --- what the tests and benchmarks call ---

class PythonInvocations(ast.NodeVisitor):
    """Literal program names a Python file runs, as (tool, where, kind) with kind "apt" or "pip"."""

    def __init__(self, path):
        self.path = path
        self.found = []
        tree = ast.parse(path.read_text(), str(path))
        # Variables assigned a list literal anywhere in the file: `args = ["dhcrelay", ...]`.
        self.lists = {}
        # Helpers that return <...>/.venv/bin/<their parameter>: calling one names a PyPI tool.
        self.venv_helpers = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.lists.setdefault(target.id, []).append(node.value)
            if isinstance(node, ast.FunctionDef):
                params = {a.arg for a in node.args.args}
                for inner in ast.walk(node):
                    parts = self.path_parts(inner)
                    if parts and self.is_venv_path(parts) and isinstance(parts[-1], ast.Name) and parts[-1].id in params:
                        self.venv_helpers.add(node.name)
        self.visit(tree)

    @staticmethod
    def path_parts(node):
        """The operands of `a / b / c` (a pathlib join), or None."""
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
            return None
        parts = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts.insert(0, node.right)
            node = node.left
        return [node, *parts]

    @staticmethod
    def is_venv_path(parts):
        texts = [p.value if isinstance(p, ast.Constant) else None for p in parts]
        return len(texts) >= 3 and texts[-3] == ".venv" and texts[-2] == "bin"

    def add(self, node, tool, kind="apt"):
        if isinstance(tool, str) and tool and not tool.startswith("-"):
            self.found.append((tool, f"{self.path.relative_to(ROOT)}:{node.lineno}", kind))

    def first_literal(self, node, line):
        """The program named by an argv expression: a list literal, or a variable assigned one."""
        if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant):
            self.add(line, node.elts[0].value)
        elif isinstance(node, ast.Name):
            for value in self.lists.get(node.id, []):
                self.first_literal(value, line)

    def visit_BinOp(self, node):
        parts = self.path_parts(node)
        if parts and self.is_venv_path(parts) and isinstance(parts[-1], ast.Constant):
            self.add(node, parts[-1].value, "pip")
        # A join's inner joins are part of the same path: do not visit them again.
        if not parts:
            self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        receiver = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        args = node.args
        if name == "require_tools":
            for arg in args:
                if isinstance(arg, ast.Constant):
                    self.add(node, arg.value)
        elif name in self.venv_helpers and args and isinstance(args[0], ast.Constant):
            self.add(node, args[0].value, "pip")
        elif receiver == "subprocess" and name in SUBPROCESS_CALLS and args:
            self.first_literal(args[0], node)
        elif name == "sh" and isinstance(func, ast.Name) and args and isinstance(args[0], ast.Constant):
            self.add(node, args[0].value)
        elif name in ("run", "spawn") and isinstance(func, ast.Attribute) and receiver != "subprocess" and len(args) >= 2:
            program = args[1]
            if isinstance(program, ast.Constant):
                self.add(node, program.value)
            elif isinstance(program, ast.Starred):
                self.first_literal(program.value, node)
        self.generic_visit(node)


def shell_invocations(path):
    """(tool, where, "apt") for each external command a shell script runs."""
    found = []
    lines = path.read_text().splitlines()
    functions = {m.group(1) for line in lines if (m := re.match(r"\s*(?:function\s+)?([\w-]+)\s*\(\)", line))}
    heredoc = None
    for number, line in enumerate(lines, 1):
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if (m := re.search(r"<<-?\s*'?\"?(\w+)", line)):
            heredoc = m.group(1)
        # Arithmetic expansion `$((a / b))` names variables, not commands.
        code = re.sub(r"\$\(\([^()]*\)\)", "0", line)
        # Quoted text is data (messages, awk programs, format strings), not commands.
        code = re.sub(r"'[^']*'", "''", code)
        # A double-quoted "...$(command ...)" still runs its command: keep that part, unquoted.
        code = re.sub(r'"(?:[^"\\]|\\.)*"', lambda q: f" {q[0][q[0].index('$('):-1]} " if "$(" in q[0] else '""',
                      code)
        code = re.sub(r"(^|\s)#.*", "", code)
        code = re.sub(r"\b\w+=\([^)]*\)", "", code)  # array assignments: values, not commands
        code = re.sub(r"^(\s*|.*\bin\s+)[\w*.|-]+\)(\s|$)", r"\1", code)  # a case arm's pattern
        if re.match(r"\s*[\w-]+\s*\(\)", code):
            continue
        for m in re.finditer(r"command\s+-v\s+([\w.+-]+)", code):
            found.append((m.group(1), f"{path.relative_to(ROOT)}:{number}", "apt"))
        for segment in re.split(r"\|\||&&|[|;`]|\$\(|<\(|\(", code):
            words = segment.split()
            while words and (re.match(r"^\w+=", words[0]) or words[0] in SHELL_KEYWORDS - LOOP_HEADS):
                words.pop(0)
            # `for x in a b`, `case $x in`: the words are values, not commands.
            if not words or words[0] in LOOP_HEADS:
                continue
            word = words[0].rstrip(")")  # `$(a | sort)`: the substitution's end
            if word in SHELL_BUILTINS or word in functions or not re.fullmatch(r"[\w./+-]+", word) or word.startswith("."):
                continue
            if word.startswith("-") or re.fullmatch(r"[\d.]+", word):
                continue
            found.append((word, f"{path.relative_to(ROOT)}:{number}", "apt"))
    return found


def invocations():
    found = []
    for path in SCANNED:
        if path.suffix == ".py":
            found += PythonInvocations(path).found
        else:
            found += shell_invocations(path)
    # The Swift toolchain's programs come with it, not from make deps (checked below).
    return [(tool, where, kind) for tool, where, kind in found if tool not in SWIFT_TOOLCHAIN]


# --- who provides a tool ---

@lru_cache(maxsize=None)
def dpkg_database():
    """Installed package → its fields, from one dpkg-query (Depends, Provides, Essential...)."""
    fields = ["Package", "Status", "Pre-Depends", "Depends", "Provides", "Essential", "Priority"]
    out = subprocess.run(["dpkg-query", "-W", "-f=" + "\t".join(f"${{{f}}}" for f in fields) + "\n"],
                         capture_output=True, text=True, check=True)
    packages = {}
    for line in out.stdout.splitlines():
        row = dict(zip(fields, line.split("\t")))
        if row.get("Status", "").split()[-1:] == ["installed"]:
            packages[row["Package"]] = row
    return packages


def package_names(relations):
    """Package names in a Depends-style field: alternatives all count, versions and arches dropped."""
    return [part.split("(")[0].strip().split(":")[0] for part in relations.replace("|", ",").split(",") if part.strip()]


@lru_cache(maxsize=None)
def owning_package(path):
    """The Debian package that installed a file, trying the merged-/usr spellings and the link's target."""
    real = os.path.realpath(path)
    candidates = []
    for p in (path, real):
        candidates += [p, re.sub(r"^/usr/", "/", p), p if p.startswith("/usr/") else "/usr" + p]
    for candidate in dict.fromkeys(candidates):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            # "pkg[:arch]: /path" (a diversion prints more lines; the owner's comes last).
            return out.stdout.strip().splitlines()[-1].split(":")[0].split(",")[0].strip()
    return None


@lru_cache(maxsize=None)
def installed_by_make_deps():
    """APT_PACKAGES and everything they pull in through Depends/Pre-Depends, as installed here."""
    database = dpkg_database()
    providers = {}
    for package, row in database.items():
        for name in package_names(row.get("Provides", "")):
            providers.setdefault(name, set()).add(package)
    closure, pending = set(), list(makefile_list("APT_PACKAGES"))
    while pending:
        package = pending.pop()
        if package in closure or package not in database:
            continue
        closure.add(package)
        row = database[package]
        for name in package_names(row.get("Pre-Depends", "") + "," + row.get("Depends", "")):
            pending.append(name)
            pending.extend(providers.get(name, ()))
    return closure


def is_base_system(package):
    row = dpkg_database().get(package, {})
    return row.get("Essential") == "yes" or row.get("Priority") == "required"


@lru_cache(maxsize=None)
def venv_distributions():
    """Console script name → the distribution providing it, from the virtualenv's metadata."""
    python = VENV / "bin" / "python"
    if not python.exists():
        return None
    script = ("import importlib.metadata as m\n"
              "for d in m.distributions():\n"
              "    for e in d.entry_points:\n"
              "        if e.group == 'console_scripts': print(e.name, d.metadata['Name'])\n")
    out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def problem(tool, kind):
    """Why `make deps` does not provide a tool, or None when it does."""
    pip_names = {re.split(r"[=<>!~\[]", p)[0].lower().replace("_", "-") for p in makefile_list("PIP_PACKAGES")}
    on_path = tool if tool.startswith("/") else shutil.which(tool, path=DEBIAN_PATH)
    if kind == "pip" or (on_path is None and (VENV / "bin" / tool).exists()):
        scripts = venv_distributions()
        if scripts is None:
            return f"no {VENV.name}: run `make deps`"
        distribution = scripts.get(tool)
        if distribution is None:
            return f"no distribution in {VENV.name} provides it: add one to PIP_PACKAGES"
        if distribution.lower().replace("_", "-") not in pip_names:
            return f"PyPI {distribution} is not in the Makefile's PIP_PACKAGES"
        return None
    if on_path is None or not os.path.exists(on_path):
        return "not installed: add its Debian package to APT_PACKAGES (and run `make deps`)"
    package = owning_package(on_path)
    if package is None:
        # Not from Debian: the Swift toolchain's, or a file of its own; make deps cannot install it.
        return f"{on_path} belongs to no Debian package"
    if package in installed_by_make_deps() or is_base_system(package):
        return None
    return f"Debian package {package} ({on_path}) is not in the Makefile's APT_PACKAGES"


def test_scan_finds_the_invocations_it_describes():
    """The scanner sees each way the suite runs a program, so an empty result cannot pass silently."""
    tools = {tool for tool, _, _ in invocations()}
    # require_tools, lab.spawn of a list through *args, lab.run, subprocess with a list
    # variable, a .venv path, a venv helper, shell commands and `command -v`.
    for expected in ("perfdhcp", "dhcrelay", "busybox", "atftp", "sushy-static", "ansible-playbook", "mktemp",
                     "ansible-inventory", "tcpdump", "wrk", "nginx"):
        assert expected in tools, f"the scan missed {expected}"


def test_make_deps_installs_every_tool_the_tests_and_benchmarks_run():
    if shutil.which("dpkg") is None:
        pytest.skip("not a Debian system: no dpkg to ask")
    failures = {}
    for tool, where, kind in invocations():
        why = problem(tool, kind)
        if why:
            failures.setdefault(f"{tool}: {why}", []).append(where)
    assert not failures, "make deps does not install what the tests run:\n" + "\n".join(
        f"  {what} (used at {', '.join(sorted(set(places))[:3])})" for what, places in sorted(failures.items()))


def test_the_swift_toolchain_can_build_the_fuzzers():
    """`make fuzz` (and the smoke run in `make test`) needs the toolchain's libFuzzer and
    AddressSanitizer runtimes, clang and llvm-ar for Yams' C part, and lld; no Debian package
    brings them, the Swift toolchain does."""
    swiftc = shutil.which("swiftc") or "/opt/swift/usr/bin/swiftc"
    assert os.path.exists(swiftc), "no swiftc: install the Swift toolchain"
    bin_dir = Path(os.path.realpath(swiftc)).parent
    for tool in ("clang", "llvm-ar", "ld.lld"):
        assert (bin_dir / tool).exists(), f"the Swift toolchain at {bin_dir} has no {tool}"
    runtimes = {p.name for p in bin_dir.parent.glob("lib/clang/*/lib/linux/*.a")}
    arch = platform.machine()
    for runtime in (f"libclang_rt.fuzzer-{arch}.a", f"libclang_rt.asan-{arch}.a"):
        assert runtime in runtimes, f"the Swift toolchain has no {runtime}: it cannot build fuzz targets"
