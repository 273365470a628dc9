import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { passwordLine } from '../core/password-line.js';
import { writeFileAtomicSync } from '../core/write-file-atomic.js';
import { DEFAULT_SCRYPT, deriveKey, SALT_BYTES, type ScryptParams } from './crypto.js';

/**
 * Key derivation started by the launcher, before the CLI loads. Opening a repository
 * waits for scrypt (~0.15 s on the pool, this thread idle), and the CLI's modules take
 * ~0.25 s to load before it can even read the key slot: every command paid the two one
 * after the other. The launcher now derives the keys of the slots this config's last run
 * opened (their salt and scrypt parameters, which the repository stores in the clear,
 * kept in the key-slot hints file) while the CLI loads, and unlockMasterKey takes such a
 * derivation when the slot and password are the ones it needs. A hint that no longer fits
 * (a changed password, a new repository) costs one derivation beside the start, never a
 * wrong key: a key is only used for the password and slot it was made from. No key is
 * stored anywhere.
 *
 * A config with no hints yet (no run of it opened a repository, unencrypted ones included:
 * saveOpenedSlots), run as `backup run`, is most likely backing up to a new
 * repository, whose creation makes a key slot (writeKeyFile): that slot's salt is drawn
 * and its key derived ahead in the same way. Derived beside the first backup's walk
 * instead, its 32 MiB of scrypt came on top of the walk's first buffers (a large file's
 * first backup peaked there) and took a core from it. When the repository exists after
 * all (hints lost), the derivation is not taken: it cost the pool a derivation during the start.
 */

/** Shared through globalThis: the launcher and the CLI bundle each hold their own copy of this module. */
const REGISTRY = Symbol.for('bkdr.keysDerivedAhead');
/** Set once the exit hook is in: one per process, whichever copy of the module put it there. */
const EXIT_HOOK = Symbol.for('bkdr.keysDerivedAhead.exitHook');
/**
 * How long derivations not taken, and the password they were made with, are kept: a run
 * opens its repositories in its first seconds, and a long-lived process (`bkdr serve`, the
 * scheduler's daemon) must not hold them for its lifetime. Later opens derive as before.
 */
const HOLD_MS = 30_000;
/** Arguments with which no command runs (wherever they stand: an option's value that matches only costs the head start). */
const NO_COMMAND = new Set(['-V', '--version', '-h', '--help', 'help']);
/**
 * Commands that open a repository whenever they run, derived ahead even before one of them
 * has run with the config: the first restore after months of backups is the one an outage
 * waits for. Other commands (`dr`, `key`, `serve`) are learned from the runs that opened one.
 */
const OPENING_COMMANDS = new Set(['backup', 'restore', 'wal']);
/** Bounds of the hints file: configs remembered (the least recently changed go first), and per config its commands and key slots. */
const MAX_CONFIGS = 16;
const MAX_COMMANDS = 8;
/**
 * Slots derived ahead, at most: each holds a thread of libuv's pool (4) for the derivation,
 * and the ESM loader reads the CLI's modules through that pool (with 4 scrypts running, a
 * small import took 0.5 s, against 24 ms with one). A run with more slots derives the rest as before.
 */
const MAX_SLOTS = 2;
/** A salt's length in bytes, at most (writeKeyFile makes SALT_BYTES). */
const MAX_SALT_BYTES = 64;
/** The global short options that take no value, which may be combined with -c (`-qc file`). */
const SHORT_FLAGS = new Set(['q', 'v', 'y', 'V', 'h']);

interface Registry {
  /** The config this run uses, as its arguments name it (configKeyOf). */
  config: string;
  /** The first word of the command (`backup` in `bkdr backup run`). */
  command: string | undefined;
  /** BKDR_PASSWORD, or a password file's first line once a derivation ahead wants it: what the derivations ahead were made with. */
  password: string | undefined;
  /** The config's encryption.passwordFile, once the CLI took the password from it (notePasswordFile). */
  passwordFile: string | undefined;
  /** Where the hints file is (keyHintsFile). */
  env: Env;
  /** Started ahead and not taken yet, by slotKey. */
  derivations: Map<string, Promise<Buffer>>;
  /** A new slot's salt and parameters, its key being derived, until a repository's creation takes it (takeNewSlotDerivedAhead). */
  newSlot: { salt: Buffer; params: ScryptParams; derived: Promise<Buffer> } | undefined;
  /** How many were started and how many taken: the CLI's debug line at the end of a run. */
  started: number;
  taken: number;
  /** Whether this run opened or created a repository, with key slots or without (noteRepositoryOpened). */
  openedRepository: boolean;
  /** The slots this run opened (rememberKeySlot), by slotKey: the next run's hints. */
  opened: Map<string, KeySlotHint>;
}

export interface KeySlotHint extends ScryptParams {
  /** Base64, as in the key file. */
  salt: string;
}

interface ConfigHints {
  /** First words of the commands that opened a repository: others (`bkdr dr status`) derive nothing ahead. */
  commands: string[];
  /** The slots the last run that opened any opened. */
  slots: KeySlotHint[];
  /** The config's encryption.passwordFile (absolute), when that is where the password came from: the launcher cannot read the config. */
  passwordFile?: string;
  used: number;
}

interface HintsFile {
  version: 1;
  configs: Record<string, ConfigHints>;
}

type Env = Record<string, string | undefined>;

/** Where the hints live: `$XDG_CACHE_HOME/bkdr/key-slots.json` (~/.cache/bkdr/). */
export function keyHintsFile(env: Env = process.env): string {
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'bkdr', 'key-slots.json');
}

/**
 * Starts the derivations this run will likely need, from its arguments (`process.argv`
 * without node and the script), and keeps the slots it opens for the next run when it
 * exits. Only the launcher calls it. Never throws: a hint is a guess.
 */
export function deriveKeysAhead(args: readonly string[], env: Env = process.env, cwd: string = process.cwd()): void {
  try {
    if (args.some((a) => NO_COMMAND.has(a))) return;
    const { config, command, subcommand } = parseArgs(args, env, cwd);
    const direct = env['BKDR_PASSWORD'];
    const registry: Registry = {
      config,
      command,
      password: direct || undefined,
      passwordFile: undefined,
      env,
      derivations: new Map(),
      newSlot: undefined,
      started: 0,
      taken: 0,
      openedRepository: false,
      opened: new Map(),
    };
    const global = globalThis as Record<symbol, unknown>;
    global[REGISTRY] = registry;
    if (!global[EXIT_HOOK]) {
      global[EXIT_HOOK] = true;
      process.once('exit', saveOpenedSlots);
    }
    const hints = readHints(env).configs[config];
    // No run of the config opened a repository yet: a `backup run` creates its repositories (see the file's head).
    const creating = !hints && command === 'backup' && subcommand === 'run';
    if (!command || (!creating && !(hints && (OPENING_COMMANDS.has(command) || hints.commands.includes(command))))) return;
    // resolvePassword's order: BKDR_PASSWORD, BKDR_PASSWORD_FILE, BKDR_PASSWORD_COMMAND (never run
    // ahead: it may ask someone, or count its calls), then the config's passwordFile.
    const envFile = env['BKDR_PASSWORD_FILE'];
    const file = envFile || (env['BKDR_PASSWORD_COMMAND'] ? undefined : hints?.passwordFile);
    if (!direct && file) registry.password = passwordFromFile(file, cwd);
    const { password } = registry;
    if (!password) return;
    setTimeout(() => {
      registry.derivations.clear();
      registry.newSlot = undefined;
      registry.password = undefined;
    }, HOLD_MS).unref();
    if (creating) {
      const salt = randomBytes(SALT_BYTES);
      const derived = deriveKey(password, salt, DEFAULT_SCRYPT);
      derived.catch(() => undefined);
      registry.newSlot = { salt, params: DEFAULT_SCRYPT, derived };
      registry.started++;
      return;
    }
    // At most MAX_SLOTS: readHints keeps no more.
    for (const slot of hints?.slots ?? []) {
      const salt = Buffer.from(slot.salt, 'base64');
      const derived = deriveKey(password, salt, slot);
      // Taken or not, its failure is nobody's: unlockMasterKey derives again then.
      derived.catch(() => undefined);
      registry.derivations.set(slotKey(salt, slot), derived);
      registry.started++;
    }
  } catch {
    // An unreadable home or hints file: the run derives as it always did.
  }
}

/** The derivation started ahead for this password and slot, taken once; undefined when there is none. */
export function takeKeyDerivedAhead(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> | undefined {
  const registry = registryOf();
  if (!registry?.password || registry.password !== password) return undefined;
  const key = slotKey(salt, params);
  const derived = registry.derivations.get(key);
  if (!derived) return undefined;
  registry.derivations.delete(key);
  registry.taken++;
  return derived.catch(() => deriveKey(password, salt, params));
}

/**
 * The salt and parameters of a new key slot, with its key derived ahead for this password
 * (a first `backup run`, see the file's head), taken once; undefined when there is none.
 */
export function takeNewSlotDerivedAhead(password: string): { salt: Buffer; params: ScryptParams; key: Promise<Buffer> } | undefined {
  const registry = registryOf();
  const slot = registry?.newSlot;
  if (!slot || registry.password !== password) return undefined;
  registry.newSlot = undefined;
  registry.taken++;
  return { salt: slot.salt, params: slot.params, key: slot.derived.catch(() => deriveKey(password, slot.salt, slot.params)) };
}

/** Derivations this run started ahead, and how many of them were taken; undefined without the launcher. */
export function keysDerivedAhead(): { started: number; taken: number } | undefined {
  const registry = registryOf();
  return registry && { started: registry.started, taken: registry.taken };
}

/** Notes that the CLI took this run's password from the config's encryption.passwordFile: the next run's launcher may read it too. */
export function notePasswordFile(path: string): void {
  const registry = registryOf();
  if (registry) registry.passwordFile = resolve(path);
}

/** Notes that this run opened or created a repository, encrypted or not: see saveOpenedSlots. */
export function noteRepositoryOpened(): void {
  const registry = registryOf();
  if (registry) registry.openedRepository = true;
}

/** Notes that this run opened the slot with salt `salt` (its key proved right): the next run of this config derives it ahead. */
export function rememberKeySlot(salt: Buffer, params: ScryptParams): void {
  const registry = registryOf();
  const slot = { salt: salt.toString('base64'), N: params.N, r: params.r, p: params.p };
  registry?.opened.set(hintKey(slot), slot);
}

/**
 * At exit: the slots this run opened (or wrote, creating its repository) become its
 * config's hints, so a slot no run opens any more (a new repository, a changed password)
 * is not derived again. A run that opened none (it failed first, or opens no repository)
 * leaves the hints as they were. The file is written only when they change.
 */
function saveOpenedSlots(): void {
  const registry = registryOf();
  if (!registry) return;
  const { command, opened, env, passwordFile, openedRepository } = registry;
  // Only a run whose password the launcher can find (BKDR_PASSWORD, a password file) makes hints worth keeping.
  if ((!env['BKDR_PASSWORD'] && !env['BKDR_PASSWORD_FILE'] && !passwordFile) || !command || (opened.size === 0 && !openedRepository)) return;
  try {
    const file = keyHintsFile(env);
    const hints = readHints(env);
    const known = hints.configs[registry.config];
    // Only repositories without key slots (unencrypted): hints known stay as they are; with none, the config is
    // noted with no slot, or each of its `backup run`s would derive a new slot's key for nothing.
    if (opened.size === 0 && known) return;
    const slots = [...opened.values()].slice(0, MAX_SLOTS);
    const same =
      known?.commands.includes(command) && known.passwordFile === passwordFile && known.slots.length === slots.length && slots.every((s) => known.slots.some((k) => hintKey(k) === hintKey(s)));
    if (same) return;
    hints.configs[registry.config] = {
      commands: [command, ...(known?.commands ?? []).filter((c) => c !== command)].slice(0, MAX_COMMANDS),
      slots,
      ...(passwordFile ? { passwordFile } : {}),
      used: Date.now(),
    };
    const kept = Object.entries(hints.configs)
      .sort(([, a], [, b]) => b.used - a.used)
      .slice(0, MAX_CONFIGS);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Whole or not at all, whichever of two runs writes last.
    writeFileAtomicSync(file, JSON.stringify({ version: 1, configs: Object.fromEntries(kept) } satisfies HintsFile), { mode: 0o600 });
  } catch {
    // Hints are a cache of what the repository holds in the clear: without them the next run only starts slower.
  }
}

/**
 * The config a run uses, as its arguments and environment name it: `--config`, else
 * BKDR_CONFIG (both resolved against the working directory), else the directory the
 * search starts from.
 */
export function configKeyOf(args: readonly string[], env: Env, cwd: string): string {
  return parseArgs(args, env, cwd).config;
}

/**
 * The config key, the command's first word and the word right after it (`run` in `backup
 * run`), read as commander reads the global options: `-c`/`--config` before or after the
 * command, the last one given, `--config=file`, `-cfile`, and -c last in a group of short
 * flags (`-qc file`); nothing after `--`.
 */
function parseArgs(args: readonly string[], env: Env, cwd: string): { config: string; command: string | undefined; subcommand: string | undefined } {
  let named: string | undefined;
  let command: string | undefined;
  let subcommand: string | undefined;
  let commandAt = -1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === '--config') named = args[++i];
    else if (a.startsWith('--config=')) named = a.slice('--config='.length);
    else if (a.startsWith('-') && !a.startsWith('--') && a.length > 1) {
      const at = a.indexOf('c');
      // -c with what follows it as its value, or the next argument; the letters before it are flags.
      if (at > 0 && [...a.slice(1, at)].every((f) => SHORT_FLAGS.has(f))) named = at + 1 < a.length ? a.slice(at + 1) : args[++i];
    } else if (a.startsWith('-')) continue;
    else if (command === undefined) {
      command = a;
      commandAt = i;
    }
    // The word right after the command's: an option (or its value) between them leaves none.
    else if (i === commandAt + 1) subcommand = a;
  }
  named ??= env['BKDR_CONFIG'];
  return { config: named ? `file:${resolve(cwd, named)}` : `search:${cwd}`, command, subcommand };
}

/**
 * The first line of a password file, as resolvePassword (runtime/password.ts) reads it,
 * when it is a regular file: a pipe, a FIFO or /dev/stdin gives its bytes once, and they are
 * the CLI's to read.
 */
function passwordFromFile(file: string, cwd: string): string | undefined {
  const path = resolve(cwd, file);
  let fd: number | undefined;
  try {
    // Not even opened unless a regular file: opening a FIFO's reading end unblocks its writer, whose bytes would then be lost.
    if (!statSync(path).isFile()) return undefined;
    // O_NONBLOCK: should it have become a FIFO since, the open must not hold the start.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    const bytes = Buffer.alloc(4096);
    const length = readSync(fd, bytes, 0, bytes.length, 0);
    return passwordLine(bytes.subarray(0, length).toString('utf8')) || undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function registryOf(): Registry | undefined {
  return (globalThis as Record<symbol, Registry | undefined>)[REGISTRY];
}

function slotKey(salt: Buffer, params: ScryptParams): string {
  return hintKey({ salt: salt.toString('base64'), N: params.N, r: params.r, p: params.p });
}

function hintKey(slot: KeySlotHint): string {
  return `${slot.salt}:${slot.N}:${slot.r}:${slot.p}`;
}

/** The hints file as far as it is sound; an absent or damaged one holds nothing. */
function readHints(env: Env): HintsFile {
  // No prototype: a config key is a path, and "__proto__" is one too.
  const configs = Object.create(null) as Record<string, ConfigHints>;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(keyHintsFile(env), 'utf8'));
  } catch {
    return { version: 1, configs };
  }
  const file = parsed as Partial<HintsFile> | null;
  if (typeof file !== 'object' || file === null || file.version !== 1 || typeof file.configs !== 'object' || file.configs === null) return { version: 1, configs };
  for (const [config, value] of Object.entries(file.configs as Record<string, unknown>)) {
    const hints = soundHints(value);
    if (hints) configs[config] = hints;
  }
  return { version: 1, configs };
}

function soundHints(value: unknown): ConfigHints | undefined {
  const v = value as Partial<ConfigHints> | null;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.commands) || !Array.isArray(v.slots) || typeof v.used !== 'number') return undefined;
  const commands = v.commands.filter((c): c is string => typeof c === 'string').slice(0, MAX_COMMANDS);
  const slots = v.slots.filter(soundSlot).slice(0, MAX_SLOTS);
  const passwordFile = typeof v.passwordFile === 'string' && isAbsolute(v.passwordFile) ? v.passwordFile : undefined;
  return { commands, slots, ...(passwordFile ? { passwordFile } : {}), used: v.used };
}

/**
 * Parameters a key slot of ours holds (writeKeyFile writes DEFAULT_SCRYPT): a damaged or
 * foreign file must not start a derivation costlier than the one a run makes anyway.
 */
function soundSlot(s: unknown): s is KeySlotHint {
  const slot = s as Partial<KeySlotHint> | null;
  if (typeof slot !== 'object' || slot === null || typeof slot.salt !== 'string') return false;
  const { N, r, p } = slot;
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p) || N! < 2 || (N! & (N! - 1)) !== 0 || r! < 1 || p! < 1) return false;
  const saltBytes = Buffer.from(slot.salt, 'base64').length;
  return N! * r! <= DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r && N! * r! * p! <= DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r * DEFAULT_SCRYPT.p && saltBytes >= 16 && saltBytes <= MAX_SALT_BYTES;
}
