import type * as z from 'zod';
import { type BkdrConfig, type BkdrConfigInput, configSchema } from './schema.js';
import { checkDrReferences, type DrReferencesConfig } from './dr-references.js';
import { type ConfigIssue, ConfigValidationError, formatPath, suggestKey } from './validation-error.js';

/** Validates a config object, applies defaults and names destinations; throws ConfigValidationError. */
export function validateConfig(input: unknown, file?: string): BkdrConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success)
    throw new ConfigValidationError(
      parsed.error.issues.flatMap((i) => describeIssues(i, input)),
      file,
    );
  const config = parsed.data;
  const typeCounts = new Map<string, number>();
  for (const d of config.destinations) typeCounts.set(d.type, (typeCounts.get(d.type) ?? 0) + 1);
  const destinations = config.destinations.map((d, i) => ({
    ...d,
    // CLI.md: the name defaults to the type when that type is unique.
    name: d.name ?? ((typeCounts.get(d.type) ?? 0) === 1 ? d.type : `${d.type}-${i + 1}`),
    priority: d.priority ?? i + 1,
  }));
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  destinations.forEach((d, i) => {
    const first = seen.get(d.name);
    if (first !== undefined) issues.push({ path: `destinations[${i}].name`, message: `'${d.name}' is already the name of destinations[${first}]` });
    else seen.set(d.name, i);
  });
  // What the schema cannot see alone: steps and plans that name ones that do not exist, or form a cycle.
  // Checked on the config as written, so each issue's path is the one in the user's file.
  issues.push(...checkDrReferences(input as DrReferencesConfig));
  if (issues.length > 0) throw new ConfigValidationError(issues, file);
  return { ...config, destinations };
}

/** One section of the config on its own (a scenario the library registers), with issue paths under `path`. */
export function validateSection<S extends z.ZodType>(schema: S, input: unknown, path: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ConfigValidationError(parsed.error.issues.map((i) => ({ path: [path, formatPath(i.path)].filter((p) => p).join('.'), message: i.message })));
  return parsed.data;
}

/**
 * A union of shapes (a list or a record of scenarios, a step or a list of steps) that no
 * option matches: report the option the value has the shape of, with its own paths.
 */
function describeIssues(issue: z.core.$ZodIssue, input: unknown): ConfigIssue[] {
  if (issue.code === 'invalid_union' && !(issue as { options?: unknown[] }).options && issue.errors.length > 0) {
    const wrongShape = (branch: z.core.$ZodIssue[]) =>
      branch.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'invalid_value' && branch.length === 1 && issue.errors.length > 1)));
    const branch = issue.errors.find((b) => !wrongShape(b));
    if (branch) return branch.flatMap((i) => describeIssues({ ...i, path: [...issue.path, ...i.path] }, input));
    const expected = [
      ...new Set(issue.errors.flatMap((b) => b.flatMap((i) => (i.code === 'invalid_type' ? [article(i.expected)] : i.code === 'invalid_value' ? i.values.map((v) => describeValue(v)) : [])))),
    ];
    if (expected.length > 0) return [{ path: formatPath(issue.path), message: `must be ${expected.join(' or ')} (got ${describeValue(valueAt(input, issue.path))})` }];
  }
  return [describeIssue(issue, input)];
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): ConfigIssue {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      const value = valueAt(input, issue.path);
      if (value === undefined) return { path, message: 'required' };
      return { path, message: `must be ${article(issue.expected)} (got ${describeValue(value)})` };
    }
    case 'unrecognized_keys': {
      const known = knownKeysAt(input, issue.path);
      const [key] = issue.keys;
      const keyPath = formatPath([...issue.path, key ?? '']);
      const suggestion = key ? suggestKey(key, known) : undefined;
      const more =
        issue.keys.length > 1
          ? ` (also ${issue.keys
              .slice(1)
              .map((k) => `'${k}'`)
              .join(', ')})`
          : '';
      return { path: keyPath, message: `unknown key '${key}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}${more}` };
    }
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (options) return { path, message: `must be one of ${options.join(', ')} (got ${describeValue(valueAt(input, issue.path))})` };
      return { path, message: issue.message };
    }
    case 'invalid_key':
      return { path, message: `invalid name: ${issue.issues[0]?.message ?? issue.message}` };
    case 'invalid_value':
      return { path, message: `must be one of ${issue.values.map(String).join(', ')} (got ${describeValue(valueAt(input, issue.path))})` };
    default:
      return { path, message: issue.message.replace(/^Invalid input: /, '') };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'nothing';
  return JSON.stringify(v) ?? String(v);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** The keys the schema allows at `path`, following the value's discriminators. */
function knownKeysAt(input: unknown, path: readonly PropertyKey[]): string[] {
  let schema: unknown = configSchema;
  let value: unknown = input;
  for (const p of [...path, undefined]) {
    schema = unwrap(schema, value);
    if (p === undefined) break;
    const def = defOf(schema);
    if (def?.type === 'object') schema = (def['shape'] as Record<string, unknown>)[String(p)];
    else if (def?.type === 'array') schema = def['element'];
    else if (def?.type === 'record') schema = def['valueType'];
    else return [];
    value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[p] : undefined;
  }
  const def = defOf(schema);
  return def?.type === 'object' ? Object.keys(def['shape'] as Record<string, unknown>) : [];
}

function defOf(schema: unknown): ({ type: string } & Record<string, unknown>) | undefined {
  return (schema as { _zod?: { def?: { type: string } & Record<string, unknown> } } | undefined)?._zod?.def;
}

function unwrap(schema: unknown, value: unknown): unknown {
  for (let i = 0; i < 10; i++) {
    const def = defOf(schema);
    if (!def) return schema;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') schema = def['innerType'];
    else if (def.type === 'pipe') schema = def['in'];
    else if (def.type === 'union') {
      // A union of a list and a single value or record: the option of the value's shape.
      const all = def['options'] as unknown[];
      const shaped = all.filter((o) => (defOf(o)?.type === 'array') === Array.isArray(value));
      const options = shaped.length > 0 ? shaped : all;
      const discriminator = def['discriminator'] as string | undefined;
      const tag = discriminator && value && typeof value === 'object' ? (value as Record<string, unknown>)[discriminator] : undefined;
      const match = options.find((o) => {
        const shape = defOf(unwrap(o, value))?.['shape'] as Record<string, unknown> | undefined;
        const lit = shape && discriminator ? defOf(shape[discriminator]) : undefined;
        return lit && (lit['values'] as unknown[] | undefined)?.includes(tag);
      });
      schema = match ?? options.find((o) => defOf(o)?.type === 'object') ?? options[0];
    } else return schema;
  }
  return schema;
}

export type { BkdrConfig, BkdrConfigInput };
