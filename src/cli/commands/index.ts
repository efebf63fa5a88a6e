import type { CommandModule } from '../program.js';
import { doctorCommand } from './doctor.js';
import { connectCommand } from './connect.js';
import { serveCommand } from './serve.js';
import { devCommand } from './dev.js';

/** Every registered command, in the order --help lists them. Only commands that work are here. */
export const commands: CommandModule[] = [connectCommand, doctorCommand, serveCommand, devCommand];
