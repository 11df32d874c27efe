/**
 * A Dockerfile's steps taken on this machine, without Docker, for tests that must run what an
 * image would run (test/e2e/deployment-example.test.ts).
 *
 * A staging directory stands for the image's WORKDIR: COPY copies from the build context into
 * it, RUN runs there with `sh -c`, and CMD, HEALTHCHECK and EXPOSE are read. One step is not
 * taken: `npm ci` (tests never install packages); the staging directory gets a link to the
 * repository's node_modules instead, which holds the same lockfile's packages. FROM and USER
 * are noted and skipped (the base image's Node is the one running the tests; no user switch).
 * Any other instruction fails the staging, so the Dockerfile cannot grow a step that the test
 * silently leaves out.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix, resolve } from 'node:path';

export interface StagedImage {
  /** The staging directory: the image's WORKDIR. */
  readonly dir: string;
  /** The image's WORKDIR, as the Dockerfile names it. */
  readonly workdir: string;
  /** CMD, exec form. */
  readonly cmd: readonly string[];
  /** HEALTHCHECK's command, exec form; null when there is none. */
  readonly healthcheck: readonly string[] | null;
  /** EXPOSE'd ports. */
  readonly exposed: readonly number[];
  /** The sources of every COPY, relative to the build context. */
  readonly copied: readonly string[];
  /** Deletes the staging directory. */
  remove(): void;
}

/** One instruction: its keyword and the rest of its (joined) lines. */
interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Splits a Dockerfile into instructions: comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const space = whole.search(/\s/);
    instructions.push({ keyword: whole.slice(0, space).toUpperCase(), args: whole.slice(space + 1).trim() });
  }
  return instructions;
}

/** Takes the Dockerfile's steps with `context` as the build context; the caller removes the result. */
export function stageImage(dockerfile: string, context: string, nodeModules: string): StagedImage {
  const dir = mkdtempSync(join(tmpdir(), 'tickql-image-'));
  let workdir: string | null = null;
  let cmd: string[] | null = null;
  let healthcheck: string[] | null = null;
  const exposed: number[] = [];
  const copied: string[] = [];
  /** A path inside the image, as a path in the staging directory. */
  const inImage = (path: string): string => {
    if (workdir === null) throw new Error('the Dockerfile copies or runs before WORKDIR; the staging needs WORKDIR first');
    const absolute = posix.resolve(workdir, path);
    if (absolute !== workdir && !absolute.startsWith(`${workdir}/`)) throw new Error(`${path} is outside WORKDIR ${workdir}; the staging covers WORKDIR only`);
    return join(dir, posix.relative(workdir, absolute));
  };
  try {
    for (const { keyword, args } of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
      switch (keyword) {
        case 'FROM':
        case 'USER':
          break;
        case 'WORKDIR':
          if (workdir !== null) throw new Error('a second WORKDIR: the staging supports one');
          workdir = args;
          break;
        case 'EXPOSE':
          exposed.push(...args.split(/\s+/).map((port) => Number(port.replace(/\/tcp$/, ''))));
          break;
        case 'COPY': {
          const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
          if (args.startsWith('[')) throw new Error('COPY in JSON form is not supported by the staging');
          const dest = words.pop()!;
          const intoDirectory = dest.endsWith('/') || words.length > 1;
          for (const source of words) {
            const from = resolve(context, source);
            copied.push(source);
            const to = intoDirectory && !statSync(from).isDirectory() ? join(inImage(dest), basename(source)) : inImage(dest);
            mkdirSync(statSync(from).isDirectory() ? to : join(to, '..'), { recursive: true });
            // A directory's contents go into the destination, as Docker does.
            cpSync(from, to, { recursive: true });
          }
          break;
        }
        case 'RUN':
          if (/^npm ci\b/.test(args)) {
            if (/[;&|]/.test(args)) throw new Error(`RUN ${args}: the staging replaces \`npm ci\` only when it is a RUN of its own`);
            symlinkSync(nodeModules, inImage('node_modules'));
          } else {
            execFileSync('sh', ['-c', args], { cwd: inImage('.'), stdio: ['ignore', 'pipe', 'inherit'] });
          }
          break;
        case 'HEALTHCHECK':
          healthcheck = execForm(args.replace(/^(--\S+\s+)*CMD\s+/, ''), 'HEALTHCHECK');
          break;
        case 'CMD':
          cmd = execForm(args, 'CMD');
          break;
        default:
          throw new Error(`${keyword}: an instruction the staging does not take; teach test/support/dockerfile.ts what it means`);
      }
    }
    if (workdir === null || cmd === null) throw new Error('the Dockerfile has no WORKDIR or no CMD');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, workdir, cmd, healthcheck, exposed, copied, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `["node", "x.js"]`: the exec form; the shell form would need a shell the test cannot vouch for. */
function execForm(args: string, what: string): string[] {
  if (!args.startsWith('[')) throw new Error(`${what} ${args}: only the exec form (a JSON array) is supported`);
  return JSON.parse(args) as string[];
}
