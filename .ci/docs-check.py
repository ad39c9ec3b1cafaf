#!/usr/bin/env python3
"""The documentation check (run by .ci/test.sh): fails when the README and docs/ no longer match
the repository.

1. Links. Every relative link in README.md and docs/**/*.md (`[text](target)`, `![alt](target)`,
   `[name]: target`) names a file or folder inside the repository, and a `#anchor` names a heading
   of the Markdown file it points to (GitHub's rule: the heading's text, lower-cased, punctuation
   dropped, spaces made hyphens, `-1`, `-2`… for repeats). A pointer into the docs written in a
   source file's comment (`docs/payments.md#the-ledger`) is checked the same way.
2. Environment variables. Every variable the code reads is documented in docs/operating.md, in a
   table whose first column is headed `variable`, and every variable documented there is read:
   - what the shop and the `sandboxes` binary read (non-test Rust code under app/src and src) is
     documented outside the section "For tests and CI";
   - what only the tests and the scripts read (src/tests, `#[cfg(test)]` code, end2end, .ci) is
     documented inside it.
   A Rust file reads the environment when it calls `std::env::var`/`var_os`/`vars`, takes an
   `Env` or `Fn(&str) -> Option<String>` lookup, or builds a log filter from `RUST_LOG`; every
   string literal in its non-test code shaped like a variable name (`SOME_NAME`) is then a
   variable it reads (today no such file holds another kind of literal of that shape; one that
   must can be listed in NOT_VARIABLES below).
3. References. Nothing in the README, docs/ or the sources cites a document the repository does
   not have (the old design notes, or a bare `§4.2` into them) or an issue by number.

Usage: python3 .ci/docs-check.py  (from anywhere; python3 standard library only)
"""
import os
import re
import sys
import unicodedata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OPERATING = 'docs/operating.md'
TESTS_SECTION = 'For tests and CI'
# Literals of a variable's shape in a file that reads the environment which are not variables.
NOT_VARIABLES = set()
# Shell variables every shell has (not the project's settings), and awk's.
SHELL_OWN = {'HOME', 'PATH', 'PWD', 'USER', 'SHELL', 'TMPDIR', 'OLDPWD', 'IFS', 'NF', 'NR', 'FS', 'OFS'}
SOURCE_DIRS = ('app/src', 'src', 'end2end', '.ci', 'migrations')
SKIP_DIRS = {'node_modules', '.venv', 'target', 'test-results', 'playwright-report', '.git', 'data'}
VAR = r'[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+'

problems = []


def problem(path, line, message):
    problems.append(f'{path}:{line}: {message}')


def rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, '/')


def walk(top, exts):
    top = os.path.join(ROOT, top)
    if os.path.isfile(top):
        yield top
        return
    for dp, dns, fs in os.walk(top):
        dns[:] = sorted(d for d in dns if d not in SKIP_DIRS)
        for f in sorted(fs):
            if exts is None or f.endswith(exts):
                yield os.path.join(dp, f)


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def line_of(text, offset):
    return text.count('\n', 0, offset) + 1


# ---------------------------------------------------------------------------------------------
# Markdown: headings, their GitHub anchors, and links.

def without_code(text):
    """The text with fenced code blocks and inline code spans blanked (same length, same lines)."""
    out = []
    fence = None
    for line in text.split('\n'):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = None
            out.append(' ' * len(line))
            continue
        m = re.match(r'(```+|~~~+)', stripped)
        if m:
            fence = m.group(1)[:3]
            out.append(' ' * len(line))
            continue
        out.append(re.sub(r'(`+)(.+?)\1', lambda c: ' ' * len(c.group(0)), line))
    return '\n'.join(out)


def slug(heading):
    """GitHub's anchor for a heading's Markdown text."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)   # links and images: their text
    text = re.sub(r'<[^>]+>', '', text)                          # inline HTML
    text = text.replace('`', '')
    text = re.sub(r'(\*+|~~)', '', text)                         # emphasis (write no _emphasis_)
    text = text.strip().lower()
    kept = ''.join(ch for ch in text
                   if ch in ' -_' or ch.isalnum() or unicodedata.category(ch).startswith('M'))
    return kept.replace(' ', '-')


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        text = read(path)
        found, seen = set(), {}
        fence = None
        for line in text.split('\n'):
            stripped = line.lstrip()
            m = re.match(r'(```+|~~~+)', stripped)
            if fence:
                if stripped.startswith(fence):
                    fence = None
                continue
            if m:
                fence = m.group(1)[:3]
                continue
            h = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
            if h:
                base = slug(h.group(1))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f'{base}-{n}')
            for a in re.findall(r'<a\s+(?:id|name)="([^"]+)"', line):
                found.add(a)
        anchor_cache[path] = found
    return anchor_cache[path]


def check_target(source, line, target, base_dir):
    """One relative link target, from a file in base_dir."""
    if re.match(r'[A-Za-z][A-Za-z0-9+.-]*:', target) or target.startswith('//'):
        return  # a URL (https:, mailto:): not checked here
    path, _, anchor = target.partition('#')
    if path:
        full = os.path.normpath(os.path.join(base_dir, path))
        if not (full + os.sep).startswith(ROOT + os.sep):
            problem(source, line, f'{target}: outside the repository')
            return
        if not os.path.exists(full):
            problem(source, line, f'{target}: no such file or folder')
            return
    else:
        full = os.path.join(ROOT, source)
    if anchor:
        if full.endswith('.md'):
            if anchor not in anchors(full):
                problem(source, line, f'{target}: no heading with the anchor #{anchor} in {rel(full)}')
        elif not re.fullmatch(r'L\d+(-L\d+)?', anchor):
            problem(source, line, f'{target}: an anchor into a file that is not Markdown')


def check_markdown(path):
    text = without_code(read(path))
    source = rel(path)
    base = os.path.dirname(path)
    count = 0
    for m in re.finditer(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)', text):
        check_target(source, line_of(text, m.start()), m.group(1), base)
        count += 1
    for m in re.finditer(r'(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)', text):
        check_target(source, line_of(text, m.start()), m.group(1), base)
        count += 1
    return count


def check_pointers(path):
    """`docs/….md#anchor` written in a source file."""
    text = read(path)
    count = 0
    for m in re.finditer(r'(?<![\w/.-])(docs/[\w./-]+\.md)(#[\w-]+)?', text):
        check_target(rel(path), line_of(text, m.start()), m.group(1) + (m.group(2) or ''), ROOT)
        count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Rust sources: literals, and what `#[cfg(test)]` covers.

RUST_SPECIAL = re.compile(r'//|/\*|(?<![A-Za-z0-9_])b?r#*"|(?<![A-Za-z0-9_])b"|"|\'')


def blank(text):
    return re.sub(r'[^\n]', ' ', text)


def rust_parts(src):
    """(skeleton, literals): the source with comments and the insides of string and char
    literals blanked (same length, same lines), and each string literal as (offset, text)."""
    out, lits = [], []
    i, n = 0, len(src)
    while i < n:
        m = RUST_SPECIAL.search(src, i)
        if not m:
            out.append(src[i:]); break
        out.append(src[i:m.start()])
        i, tok = m.start(), m.group(0)
        if tok == '//':
            j = src.find('\n', i)
            j = n if j < 0 else j
            out.append(blank(src[i:j])); i = j
        elif tok == '/*':
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith('/*', j): depth += 1; j += 2
                elif src.startswith('*/', j): depth -= 1; j += 2
                else: j += 1
            out.append(blank(src[i:j])); i = j
        elif tok == "'":
            c = re.match(r"'(\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", src[i:i + 12])
            if c:
                out.append("'" + ' ' * (len(c.group(0)) - 2) + "'"); i += len(c.group(0))
            else:
                out.append(tok); i += 1  # a lifetime
        elif 'r' in tok:
            end = '"' + tok[tok.index('r') + 1:-1]
            start = i + len(tok)
            j = src.find(end, start)
            j = n if j < 0 else j
            lits.append((i, src[start:j]))
            out.append(tok + blank(src[start:j]) + end); i = j + len(end)
        else:
            start = i + len(tok)
            j = start
            while j < n and src[j] != '"':
                j += 2 if src[j] == '\\' else 1
            lits.append((i, src[start:j]))
            out.append(tok + blank(src[start:j]) + '"'); i = j + 1
    return ''.join(out), lits


def test_ranges(skeleton):
    """The spans of the items under `#[cfg(test)]`."""
    spans = []
    for m in re.finditer(r'#\[cfg\(test\)\]', skeleton):
        i = m.end()
        brace, semi = skeleton.find('{', i), skeleton.find(';', i)
        if brace < 0 or (0 <= semi < brace):
            spans.append((m.start(), semi + 1)); continue
        depth, j = 0, brace
        while j < len(skeleton):
            if skeleton[j] == '{': depth += 1
            elif skeleton[j] == '}':
                depth -= 1
                if depth == 0: break
            j += 1
        spans.append((m.start(), j + 1))
    return spans


READS_ENV = re.compile(r'std::env::var|env::var_os|env::vars|\bEnv<|Fn\(&str\)\s*->\s*Option<String>'
                       r'|from_default_env|dotenvy::var')
DIRECT_READ = re.compile(r'env::var(?:_os)?\(\s*"(' + VAR + r')"\s*\)')


def rust_variables():
    """(shop, tests): {variable: first place it is read}."""
    shop, tests = {}, {}
    for top in ('app/src', 'src'):
        for path in walk(top, ('.rs',)):
            src = read(path)
            skeleton, lits = rust_parts(src)
            spans = test_ranges(skeleton)
            in_test = lambda off: rel(path).startswith('src/tests/') or any(a <= off < b for a, b in spans)
            where = lambda off: f'{rel(path)}:{line_of(src, off)}'
            for m in DIRECT_READ.finditer(src):
                if skeleton[m.start():m.start() + 3] != src[m.start():m.start() + 3]:
                    continue  # in a comment
                (tests if in_test(m.start()) else shop).setdefault(m.group(1), where(m.start()))
            if rel(path).startswith('src/tests/'):
                continue
            live = skeleton
            for a, b in spans:
                live = live[:a] + re.sub(r'[^\n]', ' ', live[a:b]) + live[b:]
            if not READS_ENV.search(live):
                continue
            if re.search(r'from_default_env', live):
                shop.setdefault('RUST_LOG', where(live.find('from_default_env')))
            for off, text in lits:
                if re.fullmatch(VAR, text) and text not in NOT_VARIABLES and not in_test(off):
                    shop.setdefault(text, where(off))
    return shop, tests


def script_variables():
    """{variable: first place}: what end2end's and .ci's scripts read from the environment."""
    found = {}
    for path in walk('end2end', ('.ts', '.js', '.mjs', '.py')):
        text = read(path)
        for pat in (r'process\.env\.(' + VAR + ')', r'process\.env\[\s*[\'"](' + VAR + r')[\'"]',
                    r'os\.environ(?:\.get)?[\[(]\s*[\'"](' + VAR + r')[\'"]', r'os\.getenv\(\s*[\'"](' + VAR + r')[\'"]'):
            for m in re.finditer(pat, text):
                found.setdefault(m.group(1), f'{rel(path)}:{line_of(text, m.start())}')
    for path in walk('.ci', None):
        text = read(path)
        if path.endswith('.py'):
            for m in re.finditer(r'os\.environ(?:\.get)?[\[(]\s*[\'"](' + VAR + r')[\'"]', text):
                found.setdefault(m.group(1), f'{rel(path)}:{line_of(text, m.start())}')
            continue
        if not (path.endswith('.sh') or '.' not in os.path.basename(path)):
            continue
        assigned = set(re.findall(r'(?m)(?:^|[\s;(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=', text))
        for m in re.finditer(r'\$\{?([A-Z][A-Z0-9_]*)', text):
            name = m.group(1)
            if name in SHELL_OWN or name in assigned:
                continue
            found.setdefault(name, f'{rel(path)}:{line_of(text, m.start())}')
    return found


def documented_variables():
    """({variable: line} outside the tests section, {variable: line} inside it), from the
    tables of docs/operating.md whose first column is headed `variable`."""
    path = os.path.join(ROOT, OPERATING)
    shop, tests = {}, {}
    if not os.path.exists(path):
        problem(OPERATING, 0, 'missing: the environment variables are documented there')
        return shop, tests
    section_level, in_tests = None, False
    in_table, is_variables = False, False
    for number, line in enumerate(without_code(read(path)).split('\n'), 1):
        h = re.match(r'(#{1,6})\s+(.*?)\s*$', line)
        if h:
            level = len(h.group(1))
            if in_tests and level <= section_level:
                in_tests = False
            if h.group(2).strip() == TESTS_SECTION:
                in_tests, section_level = True, level
        if not line.lstrip().startswith('|'):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if not in_table:
            in_table, is_variables = True, cells[0].lower() == 'variable'
            continue
        if not is_variables or re.fullmatch(r':?-+:?', cells[0]):
            continue
        # the backticks were blanked by without_code: read the raw line's first cell
        raw_first = read(path).split('\n')[number - 1].strip().strip('|').split('|')[0]
        for name in re.findall(r'`(' + VAR + r')`', raw_first):
            (tests if in_tests else shop).setdefault(name, number)
    return shop, tests


def check_variables():
    code_shop, code_tests = rust_variables()
    for name, where in script_variables().items():
        code_tests.setdefault(name, where)
    for name in code_shop:
        code_tests.pop(name, None)
    doc_shop, doc_tests = documented_variables()
    for name, where in sorted(code_shop.items()):
        if name in doc_tests:
            problem(OPERATING, doc_tests[name], f'{name} is read by the shop ({where}): document it outside "{TESTS_SECTION}"')
        elif name not in doc_shop:
            problem(*where.rsplit(':', 1), f'{name} is read here but not documented in {OPERATING}')
    for name, where in sorted(code_tests.items()):
        if name in doc_shop:
            problem(OPERATING, doc_shop[name], f'{name} is read only by tests or scripts ({where}): document it under "{TESTS_SECTION}"')
        elif name not in doc_tests:
            problem(*where.rsplit(':', 1), f'{name} is read here but not documented in {OPERATING} under "{TESTS_SECTION}"')
    for name, line in sorted({**doc_tests, **doc_shop}.items()):
        if name not in code_shop and name not in code_tests:
            problem(OPERATING, line, f'{name} is documented but nothing reads it')
    return len(code_shop), len(code_tests)


# ---------------------------------------------------------------------------------------------
# References to what the repository does not have.

GONE = re.compile(r'\b(?:design|providers|architecture-anchors|features|toolchain)\.md\b|\bissues?\s+#?\d+\b', re.I)


def check_references(paths):
    me = os.path.abspath(__file__)
    for path in paths:
        if os.path.abspath(path) == me:
            continue
        try:
            text = read(path)
        except (UnicodeDecodeError, OSError):
            continue
        source = rel(path)
        hits = [(line_of(text, m.start()), m.group(0)) for m in GONE.finditer(text)]
        # a bare section number (`§7.9`) pointed into those notes; a standard's (`RFC 9110 §5.3`) is fine
        hits += [(line_of(text, m.start()), m.group(0)) for m in re.finditer(r'§\s?\d[\d.]*', text)
                 if not re.search(r'\b(RFC|ISO|IEC)\b[\w\s-]*$', text[max(0, m.start() - 20):m.start()])]
        if source.endswith('.md'):
            hits += [(line_of(text, m.start()), m.group(0)) for m in re.finditer(r'\.\./shared', text)]
        for line, what in hits:
            problem(source, line, f'"{what}": a document or issue the repository does not have; say it here, or point into docs/')


def main():
    docs = [os.path.join(ROOT, 'README.md')] + list(walk('docs', ('.md',)))
    links = sum(check_markdown(p) for p in docs)
    sources = [p for top in SOURCE_DIRS for p in walk(top, None)
               if not p.endswith(('.png', '.jpg', '.jpeg', '.webp', '.ico', '.woff2', '.db'))]
    sources += [os.path.join(ROOT, 'Cargo.toml'), os.path.join(ROOT, 'app', 'Cargo.toml')]
    pointers = 0
    for p in sources:
        try:
            pointers += check_pointers(p)
        except (UnicodeDecodeError, OSError):
            pass
    shop, tests = check_variables()
    check_references(docs + sources)
    for p in problems:
        print(p)
    print(f'docs check: {links} links in {len(docs)} documents, {pointers} pointers from the sources, '
          f'{shop} variables of the shop and {tests} of the tests and scripts; {len(problems)} problems')
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
