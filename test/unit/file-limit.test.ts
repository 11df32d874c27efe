import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openFileLimit, parseLimit, parseProcLimits } from '../../src/file-limit';

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('file limit', () => {
  it('reads the soft limit from /proc/<pid>/limits', () => {
    expect(parseProcLimits(PROC_LIMITS)).toBe(1024);
    expect(parseProcLimits(PROC_LIMITS.replace('1024   ', 'unlimited'))).toBe(Infinity);
    expect(parseProcLimits('Max cpu time unlimited unlimited seconds\n')).toBeNull();
  });

  it('reads what ulimit -n prints', () => {
    expect(parseLimit('4096\n')).toBe(4096);
    expect(parseLimit('unlimited\n')).toBe(Infinity);
    expect(parseLimit('')).toBeNull();
    expect(parseLimit('0')).toBeNull();
    expect(parseLimit('sh: ulimit: not found')).toBeNull();
  });

  it("knows this process's limit", () => {
    const limit = openFileLimit();
    expect(limit).toBeGreaterThan(0);
    if (process.platform === 'linux') expect(limit).toBe(parseProcLimits(readFileSync('/proc/self/limits', 'utf8')));
  });
});
