import type { ByteRange, StorageAdapter } from '../../src/storage/adapter.js';

/** Records what the repository asks of the destination, to check write order and request counts. */
export function recording(inner: StorageAdapter): StorageAdapter & { puts: string[]; gets: { key: string; range?: ByteRange | undefined }[] } {
  const puts: string[] = [];
  const gets: { key: string; range?: ByteRange | undefined }[] = [];
  return {
    ...inner,
    name: inner.name,
    kind: inner.kind,
    puts,
    gets,
    put: (key, body, opts) => (puts.push(key), inner.put(key, body, opts)),
    get: (key, range) => (gets.push({ key, range }), inner.get(key, range)),
  };
}
