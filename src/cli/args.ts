/**
 * A small, strict option parser: every option is declared with its type, default and help; anything
 * else is a user error that names the option and says what is allowed.
 */
import { resolveModelRef, ZOO_PREFIX } from '../model/zoo-paths.js';
import { OptionError, UserError } from '../util/errors.js';

export type OptType = 'string' | 'number' | 'int' | 'boolean' | 'numbers' | 'strings';

export interface OptSpec {
  name: string;
  type: OptType;
  help: string;
  default?: string | number | boolean | number[] | string[];
  choices?: readonly string[];
  /** Shown in help instead of the type. */
  metavar?: string;
  /** An older name still accepted, with a deprecation notice on stderr. */
  deprecatedAlias?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptSpec[];
  examples: string[];
  /** What bare arguments mean (e.g. 'RUN folders'); without it, a bare argument is an error. */
  positionals?: string;
  /**
   * Checks of the parsed arguments that need nothing loaded (required options, how many bare
   * arguments): run by parseCommand() after --help, so a missing option is answered before tfjs loads.
   */
  check?: (p: Parsed) => void;
}

export type Parsed = Record<string, string | number | boolean | number[] | string[] | undefined> & { _: string[] };

function convert(spec: OptSpec, raw: string, cmd: string): string | number | number[] | string[] {
  const bad = (expected: string): never => {
    throw new UserError(`alp ${cmd}: --${spec.name} expects ${expected}, got '${raw}'`);
  };
  switch (spec.type) {
    case 'string':
      if (spec.choices !== undefined && !spec.choices.includes(raw)) bad(`one of ${spec.choices.join(', ')}`);
      return raw;
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) bad('a number');
      return v;
    }
    case 'int': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(v)) bad('an integer');
      return v;
    }
    case 'numbers': {
      const parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const vs = parts.map(Number);
      if (parts.length === 0 || vs.some((v) => !Number.isFinite(v))) bad('a comma-separated list of numbers');
      return vs;
    }
    case 'strings': {
      const parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (parts.length === 0) bad('a comma-separated list');
      if (spec.choices !== undefined) for (const p of parts) if (!spec.choices.includes(p)) bad(`values from ${spec.choices.join(', ')}`);
      return parts;
    }
    case 'boolean':
      return raw;
  }
}

/** `-5`, `-0.3`, `-1,1`: a negative number (list), which is a value and not an option. */
const NEGATIVE = /^-\d|^-\.\d/;

export function parseArgs(argv: string[], spec: CommandSpec, warn: (line: string) => void = (l) => process.stderr.write(l + '\n')): Parsed {
  const out: Parsed = { _: [] };
  for (const o of spec.options) if (o.default !== undefined) out[o.name] = o.default;
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const hasHelp = byName.has('help');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (hasHelp && (a === '-h' || a === '-?')) {
      out['help'] = true;
      continue;
    }
    if (!a.startsWith('--')) {
      if (a.startsWith('-') && a.length > 1 && !NEGATIVE.test(a)) {
        throw new UserError(`alp ${spec.name}: unknown option ${a} (options are spelled --name; see 'alp ${spec.name} --help')`);
      }
      if (spec.positionals === undefined) {
        throw new UserError(`alp ${spec.name}: unexpected argument '${a}' (every option is spelled --name VALUE; see 'alp ${spec.name} --help')`);
      }
      out._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    let name = a.slice(2, eq >= 0 ? eq : undefined);
    let o = byName.get(name);
    if (o === undefined) {
      const renamed = spec.options.find((x) => x.deprecatedAlias === name);
      if (renamed !== undefined) {
        warn(`alp ${spec.name}: --${name} is deprecated; use --${renamed.name}`);
        name = renamed.name;
        o = renamed;
      }
    }
    if (o === undefined) {
      throw new UserError(`alp ${spec.name}: unknown option --${name} (see 'alp ${spec.name} --help')`);
    }
    if (o.type === 'boolean') {
      if (eq >= 0) {
        const v = a.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UserError(`alp ${spec.name}: --${name} expects true or false, got '${v}'`);
        out[name] = v === 'true';
      } else out[name] = true;
      continue;
    }
    let raw: string | undefined;
    if (eq >= 0) raw = a.slice(eq + 1);
    else {
      raw = argv[i + 1];
      i++;
      // `--out --quiet`: the next token is an option, not this one's value.
      if (raw !== undefined && raw.startsWith('--')) throw new UserError(`alp ${spec.name}: --${name} needs a value (got the option ${raw})`);
    }
    if (raw === undefined) throw new UserError(`alp ${spec.name}: --${name} needs a value`);
    out[name] = convert(o, raw, spec.name);
  }
  resolveZooRefs(out);
  return out;
}

/** Options that name a model: `zoo:NAME` there is the zoo model's folder (also `LABEL=zoo:NAME` in a list). */
const MODEL_OPTIONS = ['model', 'surrogate'];

function resolveZooRefs(out: Parsed): void {
  const labelled = (item: string): string => {
    const eq = item.indexOf('=');
    return eq > 0 && !item.startsWith(ZOO_PREFIX) ? `${item.slice(0, eq + 1)}${resolveModelRef(item.slice(eq + 1))}` : resolveModelRef(item);
  };
  for (const k of MODEL_OPTIONS) {
    const v = out[k];
    if (typeof v === 'string') out[k] = resolveModelRef(v);
    else if (Array.isArray(v)) out[k] = (v as unknown[]).map((item) => (typeof item === 'string' ? labelled(item) : item)) as string[];
  }
}

export function helpText(spec: CommandSpec): string {
  const lines = [`alp ${spec.name} — ${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:'];
  const width = Math.max(...spec.options.map((o) => o.name.length + (o.type === 'boolean' ? 0 : (o.metavar ?? o.type).length + 1))) + 4;
  for (const o of spec.options) {
    const left = `${o.name === 'help' ? '-h, ' : ''}--${o.name}${o.type === 'boolean' ? '' : ' ' + (o.metavar ?? (o.choices ? o.choices.join('|') : o.type.toUpperCase()))}`;
    const def = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)})` : '';
    const alias = o.deprecatedAlias !== undefined ? ` (formerly --${o.deprecatedAlias})` : '';
    lines.push(`  ${left.padEnd(Math.max(width, left.length + 2))}${o.help}${def}${alias}`);
  }
  lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Typed getters: the parser already validated types, these only narrow them. */
export const get = {
  str: (p: Parsed, k: string): string | undefined => (typeof p[k] === 'string' ? (p[k] as string) : undefined),
  num: (p: Parsed, k: string): number | undefined => (typeof p[k] === 'number' ? (p[k] as number) : undefined),
  bool: (p: Parsed, k: string): boolean => p[k] === true,
  nums: (p: Parsed, k: string): number[] | undefined => (Array.isArray(p[k]) ? (p[k] as number[]) : undefined),
  strs: (p: Parsed, k: string): string[] | undefined => (Array.isArray(p[k]) ? (p[k] as string[]) : undefined),
};

/** A library option name as the flag that sets it: `batchSize` → `--batch-size`. */
export function flagOf(option: string): string {
  return `--${option.replace(/[A-Z]/g, (ch) => '-' + ch.toLowerCase())}`;
}

/**
 * A user error's message as the CLI prints it: options the library named (`{inputRange}`) become the
 * flags that set them; `flags` maps the options whose flag is not simply their kebab-case name.
 */
export function optionMessage(e: UserError, flags: Record<string, string> = {}): string {
  return e instanceof OptionError ? e.render((o) => (flags[o] !== undefined ? `--${flags[o]}` : flagOf(o))) : e.message;
}

/** The options of commands that run no model: output only (no --backend). */
export const OUTPUT_OPTIONS: OptSpec[] = [
  { name: 'quiet', type: 'boolean', help: 'print nothing but errors' },
  { name: 'json', type: 'boolean', help: 'print a summary as JSON on stdout' },
  { name: 'help', type: 'boolean', help: 'show this help' },
];

/** A command's arguments parsed and checked (spec.check), or undefined when --help asked for its help (printed here). */
export function parseCommand(argv: string[], spec: CommandSpec): Parsed | undefined {
  const p = parseArgs(argv, spec);
  if (p['help'] === true) {
    process.stdout.write(helpText(spec) + '\n');
    return undefined;
  }
  spec.check?.(p);
  return p;
}

/** A CommandSpec check: --model must be given. */
export function requireModel(p: Parsed, command: string): void {
  if (typeof p['model'] !== 'string') throw new UserError(`alp ${command}: --model is required (a folder with model.json, or the model.json itself)`);
}
