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
    // A pack streamed to a local disk is stored when its file is named: recorded as its put.
    ...(inner.createStreamed
      ? {
          createStreamed: (dir: string) => {
            const object = inner.createStreamed!(dir);
            return { ...object, commit: (key: string) => (puts.push(key), object.commit(key)) };
          },
        }
      : {}),
    get: (key, range) => (gets.push({ key, range }), inner.get(key, range)),
  };
}
