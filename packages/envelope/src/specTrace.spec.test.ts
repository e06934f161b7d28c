/**
 * Spec traceability of the whole package: every `//=` quote in the sources under `src/` has a test named
 * with the quoted text (its `//#` lines joined by single spaces), so a quote cannot be added, reworded or
 * dropped without its test following. The house rule is in STYLE.md ("Code that implements a
 * specification quotes it").
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** Every file under `dir`, as paths relative to `src/`. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(dir, e.name))
      : [relative(here, join(dir, e.name)).split('\\').join('/')],
  );
}

const FILES = walk(here);
/** What the build compiles (tsconfig.json excludes tests, type tests and test kits). */
const SOURCES = FILES.filter(
  (f) =>
    f.endsWith('.ts') &&
    !f.endsWith('.test.ts') &&
    !f.endsWith('.test-d.ts') &&
    !f.endsWith('.testkit.ts'),
);
/** The spec tests, plus the unit tests that also carry spec-named tests. */
const TESTS = [...FILES.filter((f) => f.endsWith('.spec.test.ts')), 'keyrings/arn.test.ts'];

interface Quote {
  readonly file: string;
  readonly line: number;
  readonly anchor: string;
  readonly text: string;
}

/** Each `//=` line with the `//#` lines right below it. */
function quotes(file: string): Quote[] {
  const lines = readFileSync(join(here, file), 'utf8').split('\n');
  const out: Quote[] = [];
  lines.forEach((l, i) => {
    const anchor = /^\s*\/\/= (.*)$/.exec(l)?.[1];
    if (anchor === undefined) return;
    const text: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const m = /^\s*\/\/# ?(.*)$/.exec(lines[j] as string);
      if (!m) break;
      text.push(m[1] as string);
    }
    out.push({ file, line: i + 1, anchor, text: text.join(' ') });
  });
  return out;
}

/** The names given to `it(...)` in a test file. */
function testNames(file: string): string[] {
  const src = readFileSync(join(here, file), 'utf8');
  const names: string[] = [];
  for (const m of src.matchAll(/\bit\(\s*(['"])((?:\\.|(?!\1)[^\\])*)\1/g))
    names.push((m[2] as string).replace(/\\(.)/g, '$1'));
  return names;
}

describe('spec traces of the envelope sources', () => {
  const all = SOURCES.flatMap(quotes);
  const names = new Set(TESTS.flatMap(testNames));

  it('finds the quotes, in the keyrings and elsewhere', () => {
    expect(all.length).toBeGreaterThan(100);
    expect(all.filter((q) => q.file.startsWith('keyrings/')).length).toBeGreaterThan(60);
    expect(all.filter((q) => !q.file.startsWith('keyrings/')).length).toBeGreaterThan(40);
    expect(TESTS.length).toBeGreaterThan(8);
  });

  it('every quote names its spec file and section and holds a MUST sentence', () => {
    for (const q of all) {
      expect(q.anchor, `${q.file}:${q.line}`).toMatch(
        /^aws-encryption-sdk-specification\/(framework|client-apis|data-format)\/[\w/-]+\.md#[\w-]+$/,
      );
      expect(q.text, `${q.file}:${q.line}`).toMatch(/\bMUST\b/);
    }
  });

  it('every quoted sentence is the name of a test', () => {
    const missing = all
      .filter((q) => !names.has(q.text))
      .map((q) => `${q.file}:${q.line} ${q.text}`);
    expect(missing).toEqual([]);
  });
});
