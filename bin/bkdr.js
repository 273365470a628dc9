#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

const code = await main(process.argv);
// Let pending stdout writes drain before exiting with the code (piped output in cron).
process.exitCode = code;
