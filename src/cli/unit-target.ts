/**
 * What `schedule install` and `serve install` read of the installing shell to write
 * units that behave as the command did when run by hand.
 */

import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { binNodeFlags, binPath } from '../core/package-root.js';
import { carriedEnvironment, passwordNote, type UnitTarget } from '../scheduling/unit-files.js';

/**
 * The config, node and bkdr as absolute paths, since cron and systemd start elsewhere with
 * a bare environment; node with the flags of bin/bkdr.js's exec line (binNodeFlags).
 */
export function unitTarget(loaded: LoadedConfig): UnitTarget {
  return {
    configPath: resolve(loaded.filepath),
    launcher: [process.execPath, ...binNodeFlags(), binPath()],
    environment: carriedEnvironment(loaded.config, process.env, process.cwd()),
    passwordNote: passwordNote(loaded.config, process.env),
  };
}

/** The `User=` of a unit: the installing user, or none when root installs, since units run as root by default. */
export function unitUser(): string | undefined {
  return process.getuid?.() === 0 ? undefined : userInfo().username;
}
