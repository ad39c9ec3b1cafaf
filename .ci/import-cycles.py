#!/usr/bin/env python3
"""The import graph of a crate's modules, and its cycles: fails when one module depends, through
others, on itself.

Usage: python3 .ci/import-cycles.py <source dir> <crate root file>, e.g. `app/src lib.rs`.

An edge is a path a module names (`use crate::a::b`, `super::c::f()`, `wire::Event` for a child
module), to the deepest module it reaches; paths in `#[cfg(test)] mod tests` are left out. A
module naming its own descendants is not an edge (it owns them: `mod wire; use wire::Event;`, a
facade's `pub use child::Item`); a child naming its parent's items is.
"""
import os, re, sys
from collections import defaultdict

root = sys.argv[1]           # e.g. app/src
crate_root = sys.argv[2]     # e.g. lib.rs
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)[:-3]
        if rel == crate_root[:-3]: m = ()
        else:
            parts = rel.split(os.sep)
            if parts[-1] == 'mod': parts = parts[:-1]
            m = tuple(parts)
        mods[m] = p
known = set(mods)

def strip(src):
    src = re.sub(r'//[^\n]*', '', src)
    # drop #[cfg(test)] mod tests { ... } at end of files (approximate: from the cfg(test) line)
    i = src.find('#[cfg(test)]\nmod tests')
    if i >= 0: src = src[:i]
    return src

def resolve(cur, path):
    segs = path.split('::')
    if segs[0] == 'crate': base = (); segs = segs[1:]
    elif segs[0] == 'super':
        base = cur
        while segs and segs[0] == 'super':
            base = base[:-1]; segs = segs[1:]
    elif segs[0] == 'self': base = cur; segs = segs[1:]
    else: return None
    best = base if base in known else None
    acc = base
    for s in segs:
        acc = acc + (s,)
        if acc in known: best = acc
        else: break
    return best

edges = defaultdict(set)
pat = re.compile(r'\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)')
usegroup = re.compile(r'\buse\s+((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};', re.S)
for m, p in mods.items():
    src = strip(open(p).read())
    targets = set()
    for g in usegroup.finditer(src):
        prefix = g.group(1)
        for item in re.findall(r'([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)', g.group(2)):
            targets.add(prefix + '::' + item)
    for x in pat.findall(src): targets.add(x)
    # paths relative to this module: `wire::Event`, `use config::X`
    for x in re.findall(r'(?<![A-Za-z0-9_:])([a-z_][a-z0-9_]*)::', src):
        if m + (x,) in known: targets.add('self::' + x)
    for t in targets:
        r = resolve(m, t)
        if r is None or r == m: continue
        # A module naming what it owns (its descendants: `mod wire; use wire::Event;`, a facade's
        # `pub use child::Item`) is not a dependency on another part of the crate.
        if r[:len(m)] == m: continue
        edges[m].add(r)

# Tarjan SCC
index = {}; low = {}; stack = []; on = set(); sccs = []; counter = [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in list(known):
    if v not in index: strong(v)
name = lambda m: '::'.join(m) or 'crate'
for c in sorted(sccs, key=len, reverse=True):
    print(len(c), sorted(name(m) for m in c))
print(f"{sys.argv[1]}: {len(known)} modules, {sum(len(v) for v in edges.values())} imports, {len(sccs)} import cycles")
sys.exit(1 if sccs else 0)
