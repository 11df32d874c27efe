import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';
import { buildSchema } from '../../src/schema';
import { EXAMPLE_OPERATIONS } from '../../src/server/example-operations';

describe('the example operations GraphiQL opens with', () => {
  it('are the README examples, each one of them', () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Try it offline'), readme.indexOf('## API'));
    const blocks = [...section.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    expect(blocks.join('\n')).toBe(EXAMPLE_OPERATIONS);
  });

  it('are valid against the schema, each named so GraphiQL can run one at a time', () => {
    const document = parse(EXAMPLE_OPERATIONS);
    expect(validate(buildSchema(), document)).toEqual([]);
    for (const definition of document.definitions) expect(definition.kind === 'OperationDefinition' && definition.name?.value).toBeTruthy();
  });
});
