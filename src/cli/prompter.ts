import { registerSecret } from '../secrets/redact.js';

/**
 * The wizard's questions, behind a small interface so commands never import @inquirer/prompts
 * directly (it is loaded only when a question is actually asked). Every secret answer is
 * registered for redaction the moment it is typed.
 */
export interface Prompter {
  text(message: string, defaultValue?: string): Promise<string>;
  secret(message: string): Promise<string>;
  select<T extends string>(message: string, choices: Array<{ value: T; name: string; description?: string }>, defaultValue?: T): Promise<T>;
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
}

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
