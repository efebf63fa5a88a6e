import { registerSecret } from '../ground/redact.js';

import type { Prompter } from '../conductor/prompter.js';

export type { Prompter };

/**
 * The wizard's questions with @inquirer/prompts, loaded only when a question is actually asked,
 * so commands never import it directly. Every secret answer is registered for redaction the
 * moment it is typed.
 */
export function inquirerPrompter(): Prompter {
  const load = () => import('@inquirer/prompts');
  const output = process.stderr; // stdout stays clean for --json and piping
  return {
    async text(message, defaultValue) {
      const { input } = await load();
      return (await input({ message, ...(defaultValue ? { default: defaultValue } : {}), required: true }, { output })).trim();
    },
    async secret(message) {
      const { password } = await load();
      const v = (await password({ message, mask: '*', validate: (s) => (s.trim() ? true : 'required') }, { output })).trim();
      registerSecret(v);
      return v;
    },
    async select(message, choices, defaultValue) {
      const { select } = await load();
      return select({ message, choices, ...(defaultValue ? { default: defaultValue } : {}) }, { output });
    },
    async confirm(message, defaultValue = false) {
      const { confirm } = await load();
      return confirm({ message, default: defaultValue }, { output });
    },
  };
}
