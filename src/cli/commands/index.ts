// The list of CLI commands. Add a line per command file.
import type { Command } from 'commander';
import { registerInspect } from './inspect.js';
import { registerLogits } from './logits.js';
import { registerPlan } from './plan.js';
import { registerEncode } from './encode.js';
import { registerGenerate } from './generate.js';
import { registerChat } from './chat.js';
import { registerServe } from './serve.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerExportGguf } from './export-gguf.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerLogits, registerInspect, registerEncode, registerPlan, registerGenerate, registerChat, registerServe, registerTrain, registerEval, registerExportGguf];
