import type { CommandModule } from '../program.js';
import { initCommand } from './init.js';
import { planCommand } from './plan.js';
import { statusCommand } from './status.js';
import { scaleCommand, startCommand, stopCommand } from './lifecycle.js';
import { connectCommand } from './connect.js';
import { destroyCommand } from './destroy.js';
import { doctorCommand } from './doctor.js';
import { serveCommand } from './serve.js';
import { devCommand } from './dev.js';
import { keysCommand } from './keys.js';
import { dashboardCommand } from './dashboard.js';
import { logsCommand } from './logs.js';

/** Every registered command, in the order --help lists them. Only commands that work are here. */
export const commands: CommandModule[] = [
  initCommand,
  planCommand,
  statusCommand,
  scaleCommand,
  stopCommand,
  startCommand,
  connectCommand,
  keysCommand,
  dashboardCommand,
  logsCommand,
  destroyCommand,
  doctorCommand,
  serveCommand,
  devCommand,
];
