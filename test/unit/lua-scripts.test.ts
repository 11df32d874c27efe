import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadScripts } from '../../src/redis/scripts';

const scripts = loadScripts();
const wrappers = readdirSync('src/redis')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: readFileSync(`src/redis/${f}`, 'utf8') }));

describe('lua scripts', () => {
  it('finds the scripts the service relies on', () => {
    expect(scripts.map((s) => s.name).sort()).toEqual(['acquireLease', 'queryMarkets', 'releaseLease', 'removeMarkets', 'upsertMarkets']);
  });

  for (const script of scripts) {
    describe(script.file, () => {
      it('opens with a header naming the script, its key count, ARGV, the reply and the errors', () => {
        const header = /^--\[\[([\s\S]*?)--\]\]/.exec(script.source)?.[1] ?? '';
        expect(header.trimStart().startsWith(`${script.name}:`)).toBe(true);
        if (script.numberOfKeys === null) expect(header).toContain('Key count: variable (`-n`)');
        else expect(header).toContain(`Key count: ${script.numberOfKeys}`);
        for (const section of ['KEYS[1]', 'ARGV', 'Returns:', 'Errors:']) expect(header).toContain(section);
      });

      it('has exactly one typed wrapper in src/redis that calls it by name', () => {
        const callers = wrappers.filter((w) => w.text.includes(`callScript(`) && w.text.includes(`'${script.name}'`));
        expect(callers.map((w) => w.file)).toEqual([`${script.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.ts`]);
      });

      it('keeps every variable local and builds no key names', () => {
        const code = script.source.replace(/--\[\[[\s\S]*?--\]\]/g, '').replace(/--.*$/gm, '');
        // A top-level assignment without `local` would create a global, which Redis rejects.
        for (const line of code.split('\n')) {
          const assignment = /^([A-Za-z_][A-Za-z0-9_]*)\s*=[^=]/.exec(line);
          if (assignment) expect.fail(`global assignment: ${line.trim()}`);
        }
        // Keys come only from KEYS: no redis.call on a concatenated first argument.
        expect(code).not.toMatch(/redis\.call\('[A-Z]+',\s*[^,)]*\.\./);
      });
    });
  }
});
