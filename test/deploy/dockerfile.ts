/**
 * Just enough of Dockerfile and .dockerignore syntax to check the repository's own files without a
 * container runtime: instructions with their line continuations joined, grouped by stage, and the
 * .dockerignore patterns Docker applies to the build context.
 */

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string | null;
  base: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    // Comments (and parser directives) may sit between continued lines; they end nothing.
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full !== '') logical.push(full);
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ base: from?.[1] ?? args, name: from?.[2] ?? null, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return stages;
}

export function instructions(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

export interface Copy {
  from: string | null;
  chown: string | null;
  sources: string[];
  destination: string;
}

/** COPY in its shell form (`COPY [--from=…] [--chown=…] src… dest`), the only form the file uses. */
export function parseCopy(args: string): Copy {
  const words = args.split(/\s+/);
  let from: string | null = null;
  let chown: string | null = null;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (flag.startsWith('--chown=')) chown = flag.slice('--chown='.length);
    else throw new Error(`COPY flag not understood here: ${flag}`);
  }
  const destination = words.pop();
  if (destination === undefined || words.length === 0) throw new Error(`COPY without a source: ${args}`);
  return { from, chown, sources: words, destination };
}

/** ENV in its `KEY=value …` form; later values win. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of instructions(stage, 'ENV')) {
    for (const [, key, value] of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      env[key!] = value!.replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

/** `HEALTHCHECK [--option=…] CMD ["exec", "form"]` → the command's argv. */
export function healthcheckArgv(args: string): string[] {
  const at = args.indexOf('CMD ');
  if (at < 0) throw new Error(`HEALTHCHECK without CMD: ${args}`);
  const argv: unknown = JSON.parse(args.slice(at + 'CMD '.length));
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
    throw new Error(`HEALTHCHECK CMD is not in exec form: ${args}`);
  }
  return argv;
}

/**
 * Whether Docker leaves `path` (relative to the context, forward slashes) out of the build context:
 * patterns are matched from the context root (`*` within one segment, `**` across segments), a match
 * on a directory covers everything below it, and the last matching line wins (`!` re-includes).
 */
export function isDockerIgnored(path: string, dockerignore: string): boolean {
  let ignored = false;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    const pattern = (exclude ? line : line.slice(1)).replace(/^\/+/, '').replace(/\/+$/, '');
    if (matchesSelfOrParent(path, pattern)) ignored = exclude;
  }
  return ignored;
}

function matchesSelfOrParent(path: string, pattern: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split(/(\*\*\/?|\*|\?)/)
      .map((part) => {
        if (part === '**/') return '(?:.*/)?';
        if (part === '**') return '.*';
        if (part === '*') return '[^/]*';
        if (part === '?') return '[^/]';
        return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      })
      .join('')}$`,
  );
  const segments = path.split('/');
  for (let i = 1; i <= segments.length; i++) {
    if (regex.test(segments.slice(0, i).join('/'))) return true;
  }
  return false;
}
