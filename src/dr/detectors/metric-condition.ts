/**
 * Metric trigger conditions over the Prometheus text exposition format, without a
 * Prometheus server: `name{label="v",...} op N`, true when ANY sample of that name whose
 * labels include the condition's satisfies the comparison. A scrape holding no such sample
 * makes the condition false, not an error: a metric absent while the service is down is
 * the health check's business.
 */

export type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!=';

export interface MetricCondition {
  name: string;
  labels: Record<string, string>;
  op: Comparison;
  value: number;
}

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const CONDITION_TAIL = /^(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN)\s*$/;

/** A float as the exposition format writes it: also `+Inf`, `-Inf`, `NaN`. */
function parseValue(text: string): number | undefined {
  if (/^[-+]?Inf$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^NaN$/i.test(text)) return NaN;
  const n = Number(text);
  return text.trim() !== '' && !Number.isNaN(n) ? n : undefined;
}

/**
 * Reads `{a="x",b="y\"z"}` from `text` at `start` (at the `{`). Returns the labels and
 * the index after the `}`; throws with the reason on a malformed set.
 */
function parseLabels(text: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const skipSpace = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = LABEL_NAME.exec(text.slice(i))?.[0];
    if (!name) throw new Error(`a label name expected at column ${i + 1}`);
    i += name.length;
    skipSpace();
    if (text[i] !== '=') throw new Error(`'=' expected after label ${name}`);
    i++;
    skipSpace();
    if (text[i] !== '"') throw new Error(`a quoted value expected for label ${name}`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`the value of label ${name} is not closed`);
      i++;
      if (c === '"') break;
      if (c === '\\') {
        const escaped = text[i++];
        value += escaped === 'n' ? '\n' : (escaped ?? '');
      } else value += c;
    }
    labels[name] = value;
    skipSpace();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`',' or '}' expected after label ${name}`);
  }
}

/** `http_errors_total{job="api"} > 10`; throws an Error whose message says what is wrong. */
export function parseMetricCondition(condition: string): MetricCondition {
  const text = condition.trim();
  const name = NAME.exec(text)?.[0];
  if (!name) throw new Error(`'${condition}' does not start with a metric name`);
  let rest = text.slice(name.length).trimStart();
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest, 0);
    labels = parsed.labels;
    rest = rest.slice(parsed.end).trimStart();
  }
  const tail = CONDITION_TAIL.exec(rest);
  const value = tail?.[2] === undefined ? undefined : parseValue(tail[2]);
  if (!tail || value === undefined) throw new Error(`'${condition}' is not 'name{label="value"} op number' with op one of > >= < <= == !=`);
  return { name, labels, op: tail[1] as Comparison, value };
}

/**
 * The samples of a Prometheus text exposition (version 0.0.4): comments and blank lines
 * are skipped, and so is a line that does not parse, so one odd metric of an exporter
 * does not blind the trigger to the others.
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const name = NAME.exec(line)?.[0];
    if (!name) continue;
    let labels: Record<string, string> = {};
    let i = name.length;
    if (line[i] === '{') {
      try {
        const parsed = parseLabels(line, i);
        labels = parsed.labels;
        i = parsed.end;
      } catch {
        continue;
      }
    }
    const [valueText] = line.slice(i).trim().split(/\s+/);
    const value = valueText === undefined ? undefined : parseValue(valueText);
    if (value !== undefined) samples.push({ name, labels, value });
  }
  return samples;
}

function compare(a: number, op: Comparison, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** The first sample that makes the condition true, or undefined when none does. */
export function findMatchingSample(condition: MetricCondition, samples: readonly MetricSample[]): MetricSample | undefined {
  return samples.find((s) => s.name === condition.name && Object.entries(condition.labels).every(([k, v]) => s.labels[k] === v) && compare(s.value, condition.op, condition.value));
}

export function evaluateMetricCondition(condition: MetricCondition, samples: readonly MetricSample[]): boolean {
  return findMatchingSample(condition, samples) !== undefined;
}
