import { getSystemErrorMap } from 'node:util';

/** An error shaped like Node's own for a failed system call (code, errno, message), from a native errno. */
export function systemError(errno: number, syscall: string, path: Buffer): NodeJS.ErrnoException {
  const [code, description] = getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'system error'];
  const error: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${syscall} '${path.toString()}'`);
  error.code = code;
  error.errno = -errno;
  error.syscall = syscall;
  return error;
}
