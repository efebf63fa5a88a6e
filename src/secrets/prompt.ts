/**
 * Default passphrase prompt for the encrypted secret file. Prompts go to stderr so that stdout
 * stays clean for output that is piped or redirected (e.g. `connect --client cursor > mcp.json`).
 * @inquirer/prompts is loaded only when a prompt is actually shown.
 */
export async function promptPassphrase(confirm: boolean): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  const context = { output: process.stderr };
  for (;;) {
    const first = await password(
      {
        message: confirm ? 'Choose a passphrase for the encrypted secret file' : 'Passphrase for the encrypted secret file',
        mask: true,
        validate: (v: string) => (confirm ? v.length >= 8 || 'use at least 8 characters' : v.length > 0 || 'type the passphrase'),
      },
      context,
    );
    if (!confirm) return first;
    const again = await password({ message: 'Type it again', mask: true }, context);
    if (again === first) return first;
    process.stderr.write('The two passphrases differ; try again.\n');
  }
}
