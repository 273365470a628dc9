/** For options that may be repeated (`--source a --source b`): commander's collector. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
