/**
 * Loads every `lua/<verbNoun>-<keys>.lua` file and registers it on a connection with ioredis
 * `defineCommand`, which sends EVALSHA and falls back to EVAL when the server lost the script
 * (after a restart or SCRIPT FLUSH). The key count comes from the file name: a number is
 * fixed, `n` means the caller passes the count with each call (variable key lists).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChainableCommander, Redis } from 'ioredis';
import { PROJECT_ROOT } from '../paths';

export const LUA_DIR = join(PROJECT_ROOT, 'lua');

export interface ScriptDefinition {
  /** Command name, e.g. `queryMarkets`. */
  readonly name: string;
  readonly file: string;
  /** Fixed key count, or null for a variable one (`-n`). */
  readonly numberOfKeys: number | null;
  readonly source: string;
}

const FILE_NAME = /^([a-z][A-Za-z]*)-(\d+|n)\.lua$/;

export function loadScripts(dir: string = LUA_DIR): ScriptDefinition[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.lua'))
    .sort()
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`lua/${file}: script files are named verbNoun-<keys>.lua, <keys> a number or n`);
      const [, name, keys] = match as unknown as [string, string, string];
      return {
        name,
        file,
        numberOfKeys: keys === 'n' ? null : Number(keys),
        source: readFileSync(`${dir}/${file}`, 'utf8'),
      };
    });
}

const scripts = loadScripts();
const byName = new Map(scripts.map((s) => [s.name, s]));

/** Registers every script on the connection; safe to call more than once. */
export function defineScripts(redis: Redis): void {
  for (const script of scripts) {
    if (typeof (redis as unknown as Record<string, unknown>)[script.name] === 'function') continue;
    redis.defineCommand(script.name, {
      lua: script.source,
      ...(script.numberOfKeys === null ? {} : { numberOfKeys: script.numberOfKeys }),
    });
  }
}

type ScriptArg = string | number;
type ScriptCommand = (...args: ScriptArg[]) => Promise<unknown> | ChainableCommander;

/**
 * Calls a script defined by `defineScripts` on a connection (resolves to its reply) or queues
 * it on a pipeline (returns the pipeline; the reply comes from `exec`).
 */
export function callScript(
  target: Redis | ChainableCommander,
  name: string,
  keys: readonly string[],
  args: readonly ScriptArg[],
): Promise<unknown> | ChainableCommander {
  const script = byName.get(name);
  if (!script) throw new Error(`no script lua/${name}-*.lua`);
  if (script.numberOfKeys !== null && script.numberOfKeys !== keys.length) {
    throw new Error(`${script.file} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (target as unknown as Record<string, ScriptCommand | undefined>)[name];
  if (typeof command !== 'function') throw new Error(`script ${name} is not defined on this connection: call defineScripts first`);
  const head: ScriptArg[] = script.numberOfKeys === null ? [keys.length] : [];
  return command.call(target, ...head, ...keys, ...args);
}
