const NS = 1_000_000_000n;

/**
 * Nanoseconds since 1970 as utimensat and futimens take them: seconds, and nanoseconds
 * 0 ≤ ns < 10^9 (also before 1970). The seconds are exact while within 2^53.
 */
export function timespec(ns: bigint): [number, number] {
  let seconds = ns / NS;
  let rest = ns % NS;
  if (rest < 0n) {
    seconds -= 1n;
    rest += NS;
  }
  return [Number(seconds), Number(rest)];
}
