/**
 * The password a password file or command gives: its first line, without its line ending.
 * The CLI (runtime/password.ts) and the launcher's key derivation ahead (repo/keys-ahead.ts)
 * read it alike: a key derived from another reading would never be taken.
 */
export function passwordLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? '';
}
