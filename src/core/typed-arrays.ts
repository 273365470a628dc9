type Grown = Uint8Array | Int32Array | Uint32Array | Float64Array;

/** A typed array of the same kind and `length` items, starting with a copy of `from`'s: growing a column or a table. */
export function resized<T extends Grown>(from: T, length: number): T {
  const to = new (from.constructor as new (length: number) => T)(length);
  to.set(from as never);
  return to;
}
