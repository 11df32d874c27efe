import { describe, expect, it } from 'vitest';
import { ApiKeys, keyFromHeaders } from '../../src/server/api-keys';

describe('ApiKeys', () => {
  const keys = new ApiKeys(['key-a-0123456789abcdef', 'key-b-fedcba9876543210']);

  it('accepts each configured key and nothing else', () => {
    expect(keys.required).toBe(true);
    expect(keys.accepts('key-a-0123456789abcdef')).toBe(true);
    expect(keys.accepts('key-b-fedcba9876543210')).toBe(true);
    for (const wrong of ['key-a-0123456789abcde', 'key-a-0123456789abcdefx', 'KEY-A-0123456789ABCDEF', '', null, undefined, 42, ['key-a-0123456789abcdef']]) {
      expect(keys.accepts(wrong)).toBe(false);
    }
  });

  it('requires nothing when no key is configured', () => {
    expect(new ApiKeys([]).required).toBe(false);
  });
});

describe('keyFromHeaders', () => {
  it('reads x-api-key, or else a Bearer token, from fetch and Node headers', () => {
    expect(keyFromHeaders(new Headers({ 'x-api-key': ' k1 ' }))).toBe('k1');
    expect(keyFromHeaders(new Headers({ authorization: 'bearer k2' }))).toBe('k2');
    expect(keyFromHeaders({ 'x-api-key': 'k3', authorization: 'Bearer k4' })).toBe('k3');
    expect(keyFromHeaders({ authorization: 'Bearer k4' })).toBe('k4');
  });

  it('finds no key in other schemes or empty headers', () => {
    expect(keyFromHeaders({ authorization: 'Basic azE6azI=' })).toBeNull();
    expect(keyFromHeaders({ authorization: 'Bearer a b' })).toBeNull();
    expect(keyFromHeaders({ 'x-api-key': '  ' })).toBeNull();
    expect(keyFromHeaders({})).toBeNull();
  });
});
