import { ConfigError } from '../core/errors.js';

/**
 * The loader for JSON configs (and package.json). cosmiconfig's own loader puts the
 * position in a code frame on later lines, which the CLI's one-line error cut off;
 * this one says what and where in the line itself.
 */
export function parseJsonConfig(filepath: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // Node 20's V8 gives an offset for most errors but none for an unexpected token
    // (`Unexpected token ']', "[1,]" is not valid JSON`): then find it ourselves.
    const stated = /at position (\d+)/.exec(message);
    const offset = stated ? Number(stated[1]) : firstInvalidOffset(text);
    const reason = message
      .replace(/( in JSON)? at position \d+[\s\S]*$/, '')
      .replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, '') // V8 quotes the text around it
      // the unexpected token may be a newline or a tab: keep the message on one line
      .replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1));
    throw new ConfigError('', `${filepath}: invalid JSON at ${lineAndColumn(text, offset)}: ${reason}`, { cause: err });
  }
}

/** `line 3 column 5`, both counted from 1 as editors do. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `line ${line} column ${column}`;
}

/**
 * The offset of the first character that cannot continue valid JSON (the text's
 * length when it ends too early). Only asked once JSON.parse has failed, so it need
 * not build anything.
 */
function firstInvalidOffset(text: string): number {
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && ' \t\n\r'.includes(text.charAt(at))) at++;
  };
  const take = (ch: string) => {
    if (text.charAt(at) !== ch) return false;
    at++;
    return true;
  };
  const literal = (word: string) => {
    for (const ch of word) if (!take(ch)) return false;
    return true;
  };
  const string = () => {
    if (!take('"')) return false;
    // A control character inside a string is no concern here: V8 names its position itself.
    const body = /(?:[^"\\]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y;
    body.lastIndex = at;
    at += body.exec(text)?.[0].length ?? 0;
    return take('"');
  };
  const number = () => {
    const re = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    re.lastIndex = at;
    const length = re.exec(text)?.[0].length ?? 0;
    at += length;
    return length > 0;
  };
  const members = (close: string, member: () => boolean): boolean => {
    at++; // the opening bracket
    skipSpace();
    if (take(close)) return true;
    for (;;) {
      skipSpace();
      if (!member()) return false;
      skipSpace();
      if (take(close)) return true;
      if (!take(',')) return false;
    }
  };
  const property = () => {
    if (!string()) return false;
    skipSpace();
    return take(':') && value();
  };
  const value = (): boolean => {
    skipSpace();
    const ch = text.charAt(at);
    if (ch === '{') return members('}', property);
    if (ch === '[') return members(']', value);
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    return number();
  };
  if (value()) skipSpace();
  return at;
}
