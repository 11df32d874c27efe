import { describe, expect, it } from 'vitest';
import { chooseEncoding } from '../../src/server/compression';

describe('chooseEncoding', () => {
  it.each([
    [null, null],
    ['', null],
    ['identity', null],
    ['gzip', 'gzip'],
    [' GZIP ', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate', 'gzip'],
    ['deflate;q=0.5, gzip;q=0.4', 'deflate'],
    ['br;q=0.1, gzip;q=0.9', 'gzip'],
    ['br; q=0, gzip; q=0.5', 'gzip'],
    ['*', 'br'],
    ['*;q=0.5, br;q=0', 'gzip'],
    ['gzip;q=0, *;q=0', null],
    ['gzip;q=abc', null],
    ['zstd, compress', null],
    [',,gzip,,', 'gzip'],
  ])('%j -> %j', (header, expected) => {
    expect(chooseEncoding(header)).toBe(expected);
  });
});
