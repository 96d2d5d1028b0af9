#!/usr/bin/env node
// dsv32 command line. Each command lives in ./commands/<name>.ts and registers itself here.
import { Command } from 'commander';
import { commands } from './commands/index.js';

const program = new Command();
program
  .name('dsv32')
  .description('DeepSeek-V3.2 in TypeScript: inspect, run, serve and train DeepSeek-V3.2-architecture models')
  .showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  const err = e as Error;
  process.stderr.write(`dsv32: ${err.message ?? String(e)}\n`);
  if (process.env.DSV32_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
