#!/usr/bin/env python3
"""The import graph of rt's top-level modules and its cycles.

Counts every `crate::X` (and `super::X` at the top level) a file of module
X names, as issue 18 does, and prints the strongly connected components
with more than one module: the import cycles. `--edges` lists every edge
with the files that make it.

    python3 .ci/module_cycles.py [--edges] [--allow a,b,c]

With `--allow`, exits 1 if any import cycle holds a module not in the list
(the one permitted knot, docs/architecture.md): CI runs it that way.
"""
import os
import re
import sys
from collections import defaultdict

SRC = os.path.join(os.path.dirname(__file__), "..", "rt", "src")


def top_module(path):
    rel = os.path.relpath(path, SRC)
    head = rel.split(os.sep)[0]
    return head[:-3] if head.endswith(".rs") else head


def modules():
    return sorted(
        top_module(os.path.join(SRC, f))
        for f in os.listdir(SRC)
        if f not in ("lib.rs",) and (f.endswith(".rs") or os.path.isdir(os.path.join(SRC, f)))
    )


def strip_tests(text):
    """Drop `#[cfg(test)] mod tests { ... }` blocks (unit tests may import anything)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\((?:all\()?test[^\]]*\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def edges():
    mods = set(modules())
    graph = defaultdict(lambda: defaultdict(set))
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs") or (root == SRC and f == "lib.rs"):
                continue
            path = os.path.join(root, f)
            src = top_module(path)
            text = strip_tests(open(path).read())
            text = re.sub(r"//[^\n]*", "", text)  # comments and doc comments
            for m in re.finditer(r"\bcrate::(\w+)", text):
                dst = m.group(1)
                if dst in mods and dst != src:
                    graph[src][dst].add(os.path.relpath(path, SRC))
    return mods, graph


def sccs(nodes, graph):
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    mods, graph = edges()
    cycles = [c for c in sccs(mods, graph) if len(c) > 1]
    print(f"{len(mods)} top-level modules; {sum(len(c) for c in cycles)} in import cycles")
    for c in cycles:
        print(f"cycle of {len(c)}: {' '.join(c)}")
    if "--allow" in sys.argv:
        allowed = set(sys.argv[sys.argv.index("--allow") + 1].split(","))
        outside = [c for c in cycles if not set(c) <= allowed]
        if len(cycles) > 1 or outside:
            print(f"import cycle outside the permitted knot {sorted(allowed)}: {outside or cycles}")
            sys.exit(1)
    if "--edges" in sys.argv:
        for src in sorted(graph):
            for dst in sorted(graph[src]):
                print(f"{src} -> {dst}: {' '.join(sorted(graph[src][dst]))}")


if __name__ == "__main__":
    main()
