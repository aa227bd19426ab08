#!/usr/bin/env python3
"""
NAME
	check-settings.py - forcetls.conf(5) against the daemons' settings tables
SYNOPSIS
	check-settings.py [--example FORCETLS.CONF] [--daemon-page SECTION=PAGE.scd ...]
		SOURCE_DIR PAGE.scd CC [CPPFLAG ...]
DESCRIPTION
	The settings tables are C arrays of cfg_def (common/config.h). Every C
	file under common/, policyd/ and milter/ that defines one is run
	through the C preprocessor (CC -E, so RELOAD_CFG_ROWS,
	TRANSPORT_CFG_ROWS and RELAY_TIMEOUT_MAX are expanded by the compiler,
	not by this script); the rows of each "cfg_def NAME[] = { ... };" and
	the choice arrays they name are then read as C tokens. The owner of a
	table is its directory: policyd/ is forcetls-policyd, milter/ is
	forcetls-milter.

	The page lists settings under "## The SECTION section" headings as

		*name* = DEFAULT
			_type_[, MIN..MAX | , one of "w1", "w2", ...]. Meaning...

	DEFAULT is written as in the configuration file (libconfig syntax),
	with scdoc's escapes. Checked: every setting of every table is on the
	page, under its section, with the same type, default, bounds and
	words; the page names no setting that no table has; a tables.*
	setting read by both daemons has the same row in both.

	--example: the commented example file (examples/forcetls.conf) names
	every setting too, in its section, as "name = value;" (at its default)
	or "# name = value;" (commented out: any value, an example).

	--daemon-page: where a daemon's own page (forcetls-policyd(8) is
	policyd=, forcetls-milter(8) milter=) states a default or bounds, they
	must be the table's: "*name* = DEFAULT (MIN-MAX...)" term lines,
	"*name* (default N" in text, and the rows of a "[[ *Setting*" table
	("|  name", ":  DEFAULT", ":  meaning ... MIN..MAX").
DIAGNOSTICS
	One line per difference; exit 1 when there is any, 0 when none.
"""
import os
import re
import subprocess
import sys

TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z_0-9]*)|'
                   r'(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(.))', re.S)
C_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', 'f': '\f', '\\': '\\', '"': '"', "'": "'"}


def c_string(lit):
    out, i, body = [], 0, lit[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == '\\':
            nxt = body[i + 1]
            if nxt == 'x':
                m = re.match(r'[0-9a-fA-F]+', body[i + 2:])
                out.append(chr(int(m.group(0), 16)))
                i += 2 + len(m.group(0))
                continue
            out.append(C_ESCAPES[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return ''.join(out)


def tokens(text):
    """C tokens: ('s', str) strings (adjacent ones joined), ('n', int), ('i', ident), ('p', ch)."""
    toks, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        if m.group(1):
            s = c_string(m.group(1))
            if toks and toks[-1][0] == 's':
                toks[-1] = ('s', toks[-1][1] + s)
            else:
                toks.append(('s', s))
        elif m.group(2):
            toks.append(('i', m.group(2)))
        elif m.group(3):
            lit = m.group(3)
            toks.append(('n', int(lit, 8) if re.fullmatch(r'0[0-7]+', lit) else int(lit, 0)))
        elif m.group(4) and not m.group(4).isspace():
            toks.append(('p', m.group(4)))
    return toks


def value(toks, i):
    """One initializer value starting at toks[i]: (value, next index). Handles
    ((void *)0), parenthesised integer expressions and unary minus."""
    depth, j = 0, i
    while j < len(toks):
        t = toks[j]
        if t == ('p', '(') or t == ('p', '{'):
            depth += 1
        elif t == ('p', ')') or t == ('p', '}'):
            if depth == 0:
                break
            depth -= 1
        elif t == ('p', ',') and depth == 0:
            break
        j += 1
    part = toks[i:j]
    kinds = [t[0] for t in part]
    if kinds == ['s']:
        return part[0][1], j
    if ('i', 'void') in part or part == [('i', 'NULL')]:
        return None, j
    if all(k in ('n', 'p') for k in kinds):
        expr = ''.join(str(t[1]) for t in part)
        if not re.fullmatch(r'[0-9()+\-*/ ]+', expr):
            raise ValueError('cannot evaluate %r' % expr)
        return int(eval(expr, {'__builtins__': {}})), j  # digits and operators only
    if kinds == ['i']:
        return ('ident', part[0][1]), j
    raise ValueError('cannot read initializer %r' % part)


def brace_list(toks, i):
    """Values of the brace-enclosed list opening at toks[i]: (items, next index)."""
    assert toks[i] == ('p', '{')
    items, i = [], i + 1
    while toks[i] != ('p', '}'):
        if toks[i] == ('p', '{'):
            row, i = brace_list(toks, i)
            items.append(row)
        else:
            v, i = value(toks, i)
            items.append(v)
        if toks[i] == ('p', ','):
            i += 1
    return items, i + 1


def region(text, start):
    """The text of the brace-enclosed initializer opening at text[start] ('{')."""
    depth, i = 0, start
    while i < len(text):
        m = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[{}]').search(text, i)
        if m is None:
            break
        if m.group(0) == '{':
            depth += 1
        elif m.group(0) == '}':
            depth -= 1
            if depth == 0:
                return text[start:m.end()]
        i = m.end()
    raise ValueError('unbalanced initializer')


CFG_DEF = re.compile(r'\bcfg_def\s+(\w+)\s*\[\s*\]\s*=\s*(?=\{)')
CHOICES = re.compile(r'\bchar\s*\*\s*const\s+(\w+)\s*\[\s*\]\s*=\s*(?=\{)')


def arrays(text, pattern):
    """{name: items} of every array 'TYPE NAME[] = { ... }' that pattern finds."""
    found = {}
    for m in pattern.finditer(text):
        items, _ = brace_list(tokens(region(text, m.end())), 0)
        found[m.group(1)] = items
    return found


def tables(src, cc, cppflags):
    """[(daemon, {path: row})] for every settings table in the sources."""
    result = []
    for sub in ('common', 'policyd', 'milter'):
        for name in sorted(os.listdir(os.path.join(src, sub))):
            path = os.path.join(src, sub, name)
            if not name.endswith('.c'):
                continue
            with open(path, encoding='utf-8') as f:
                if not re.search(r'\bcfg_def\s+\w+\s*\[\s*\]\s*=', f.read()):
                    continue
            pre = subprocess.run([cc, '-E', '-P'] + cppflags + [path], check=True,
                                 capture_output=True, text=True).stdout
            choices = arrays(pre, CHOICES)
            for tname, rows in arrays(pre, CFG_DEF).items():
                table = {}
                for r in rows:
                    pth, typ, dstr, dint, lo, hi, ch = r
                    words = None
                    if ch is not None:
                        words = [w for w in choices[ch[1]] if w is not None]
                    table[pth] = (typ[1], dstr, dint, lo, hi, words)
                result.append(('%s (%s/%s %s)' % (sub, sub, name, tname), table))
    return result


def scd_unescape(s):
    return re.sub(r'\\(.)', r'\1', s)


def libconfig_strings(s):
    """The strings of a libconfig value: "a" or [ "a", "b" ] (escapes decoded)."""
    return [c_string(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"', s)]


PAGE_ERRORS = []


def page_settings(page):
    """{section.name: (type, default text, bounds, words, line)} from the page."""
    found, section = {}, None
    with open(page, encoding='utf-8') as f:
        lines = f.read().split('\n')
    for n, line in enumerate(lines, 1):
        m = re.match(r'^## The (\w+) section\s*$', line)
        if m:
            section = m.group(1)
            continue
        if line.startswith('#'):
            section = None
        m = re.match(r'^\*([a-z0-9_]+)\* = (.*)$', line)
        if section is None or not m:
            continue
        path, text = '%s.%s' % (section, m.group(1)), scd_unescape(m.group(2)).strip()
        para = []
        for nxt in lines[n:]:
            if not nxt.startswith('\t'):
                break
            para.append(nxt.strip())
        m = re.match(r'_(string|integer|boolean|list)_(?:, (-?\d+)\.\.(-?\d+)|'
                     r', one of ((?:"[^"]*"(?:, )?)+))?\.', ' '.join(para))
        if path in found:
            PAGE_ERRORS.append('%s:%d: %s is listed twice' % (page, n, path))
        if not m:
            PAGE_ERRORS.append('%s:%d: %s: its paragraph must start with the type'
                               % (page, n, path))
            found[path] = ('?', text, None, None, n)
            continue
        bounds = (int(m.group(2)), int(m.group(3))) if m.group(2) else None
        words = re.findall(r'"([^"]*)"', m.group(4)) if m.group(4) else None
        found[path] = (m.group(1), text, bounds, words, n)
    return found


TYPE_WORD = {'CFG_STRING': 'string', 'CFG_INT': 'integer', 'CFG_BOOL': 'boolean',
             'CFG_LIST': 'list'}


def expected(row):
    """(type word, default as Python value, bounds, words) of a table row."""
    typ, dstr, dint, lo, hi, words = row
    if typ == 'CFG_STRING':
        return 'string', dstr or '', None, words
    if typ == 'CFG_LIST':
        items = [x.strip(' \t') for x in (dstr or '').split(',')]
        return 'list', [x for x in items if x], None, None
    if typ == 'CFG_INT':
        return 'integer', dint, (lo, hi), None
    return 'boolean', bool(dint), None, None


def page_default(typ, text):
    if typ == 'string':
        if not re.fullmatch(r'"(?:[^"\\]|\\.)*"', text):
            return ('unreadable', text)
        return c_string(text)
    if typ == 'list':
        if not re.fullmatch(r'\[\s*("(?:[^"\\]|\\.)*"\s*(,\s*"(?:[^"\\]|\\.)*"\s*)*)?\]', text):
            return ('unreadable', text)
        return libconfig_strings(text)
    if typ == 'integer':
        return int(text, 0) if re.fullmatch(r'-?(0x[0-9a-fA-F]+|\d+)', text) else ('?', text)
    return {'true': True, 'false': False}.get(text, ('unreadable', text))


def example_settings(path):
    """{section.name: (value text, commented, line)} of a forcetls.conf like the example."""
    found, section = {}, None
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            m = re.match(r'^(\w+) = \{', line)
            if m:
                section = m.group(1)
                continue
            if line.startswith('};'):
                section = None
                continue
            m = re.match(r'^\s*(#\s*)?([a-z0-9_]+) = (.*?);', line)
            if section is not None and m:
                found.setdefault('%s.%s' % (section, m.group(2)),
                                 (m.group(3).strip(), m.group(1) is not None, n))
    return found


def check_example(path, seen, errors):
    ex = example_settings(path)
    for name, (owner, exp) in sorted(seen.items()):
        if name not in ex:
            errors.append('%s: %s is not in it (%s has it)' % (path, name, owner))
            continue
        text, commented, line = ex[name]
        got = page_default(exp[0], text)
        if not commented and got != exp[1]:
            errors.append('%s:%d: %s = %s, but the default is %r' % (path, line, name, text,
                                                                   exp[1]))
    for name, (_, _, line) in ex.items():
        if name not in seen:
            errors.append('%s:%d: %s is in no settings table' % (path, line, name))


def daemon_page_claims(page):
    """[(name, default text or None, bounds or None, line)] a daemon's page states."""
    claims = []
    with open(page, encoding='utf-8') as f:
        lines = f.read().split('\n')
    term = re.compile(r'\*([a-z0-9_]+)\* = ("(?:[^"\\]|\\.)*"|true|false|-?\d+)'
                      r'(?: \((-?\d+)-(-?\d+))?')
    for n, line in enumerate(lines, 1):
        if not line.startswith('\t'):
            for m in term.finditer(line):
                bounds = (int(m.group(3)), int(m.group(4))) if m.group(3) else None
                claims.append((m.group(1), scd_unescape(m.group(2)), bounds, n))
        for m in re.finditer(r'\*([a-z0-9_]+)\* \(default (-?\d+)', line):
            claims.append((m.group(1), m.group(2), None, n))
        m = re.match(r'^\|  ([a-z0-9_]+)$', line)
        if m and n + 1 < len(lines) and lines[n].startswith(':  '):
            meaning = lines[n + 1][3:] if lines[n + 1].startswith(':  ') else ''
            b = re.search(r'(-?\d+)\.\.(-?\d+)', meaning)
            claims.append((m.group(1), scd_unescape(lines[n][3:]).strip(),
                           (int(b.group(1)), int(b.group(2))) if b else None, n))
    return claims


def check_daemon_page(section, page, seen, errors):
    claims = daemon_page_claims(page)
    if not claims:
        errors.append('%s: states no default at all (the parser no longer reads it?)' % page)
    for name, text, bounds, line in claims:
        path = next((p for p in ('%s.%s' % (section, name), 'tables.%s' % name) if p in seen),
                    None)
        if path is None:
            errors.append('%s:%d: %s is not a setting of %s or tables' % (page, line, name,
                                                                         section))
            continue
        owner, exp = seen[path]
        if text is not None and page_default(exp[0], text) != exp[1]:
            errors.append('%s:%d: %s: the page says %s, %s says %r' % (page, line, path, text,
                                                                      owner, exp[1]))
        if bounds is not None and bounds != exp[2]:
            errors.append('%s:%d: %s: the page\'s bounds are %s, %s says %s'
                          % (page, line, path, bounds, owner, exp[2]))


def main():
    args = sys.argv[1:]
    example, daemon_pages = None, []
    while args[:1] in (['--example'], ['--daemon-page']):
        if args[0] == '--example':
            example = args[1]
        else:
            daemon_pages.append(args[1].split('=', 1))
        args = args[2:]
    src, page, cc, cppflags = args[0], args[1], args[2], args[3:]
    errors = []
    all_tables = tables(src, cc, cppflags)
    if len(all_tables) < 2:
        errors.append('found %d settings tables, expected both daemons\' (policyd, milter)'
                      % len(all_tables))
    doc = page_settings(page)
    errors += PAGE_ERRORS
    seen = {}
    for owner, table in all_tables:
        for path, row in table.items():
            exp = expected(row)
            if path in seen and seen[path][1] != exp:
                errors.append('%s: %s and %s disagree: %r vs %r'
                              % (path, seen[path][0], owner, seen[path][1], exp))
            seen[path] = (owner, exp)
            if path not in doc:
                errors.append('%s: %s is not in the page' % (owner, path))
                continue
            typ, text, bounds, words, line = doc[path]
            where = '%s:%d: %s' % (page, line, path)
            if typ != exp[0]:
                errors.append('%s: the page says %s, %s says %s' % (where, typ, owner, exp[0]))
                continue
            got = page_default(typ, text)
            if got != exp[1]:
                errors.append('%s: the page\'s default is %s (%r), %s says %r'
                              % (where, text, got, owner, exp[1]))
            if bounds != exp[2]:
                errors.append('%s: the page\'s bounds are %s, %s says %s'
                              % (where, bounds, owner, exp[2]))
            if words != exp[3]:
                errors.append('%s: the page\'s words are %s, %s says %s'
                              % (where, words, owner, exp[3]))
    for path, d in doc.items():
        if path not in seen:
            errors.append('%s:%d: %s is on the page but in no settings table'
                          % (page, d[4], path))
    if example is not None:
        check_example(example, seen, errors)
    for section, dpage in daemon_pages:
        check_daemon_page(section, dpage, seen, errors)
    for e in errors:
        print(e)
    print('%d settings in %d tables, %d on the page, %d differences'
          % (len(seen), len(all_tables), len(doc), len(errors)))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
