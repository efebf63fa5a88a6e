// Worker secrets: secret_text bindings of the serving version. Changing one makes and deploys a new version,
// as the real API does.
import { CfApiError, ErrorCodes } from './envelope.js';
import { jsonBody, type Router } from './router.js';
import type { ScriptStore } from './scripts.js';
import type { WorkerBinding } from './upload.js';

interface SecretInput {
  name?: string;
  text?: string;
  type?: string;
}

const isSecret = (b: WorkerBinding): boolean => b.type === 'secret_text' || b.type === 'secret_key';

export function registerSecretRoutes(router: Router, scripts: ScriptStore): void {
  const s = '/accounts/:account/workers/scripts/:script';
  const requireScript = (name: string): void => {
    if (!scripts.get(name)) throw new CfApiError(404, ErrorCodes.scriptNotFound, 'This Worker does not exist on your account.');
  };
  const assertNotTakenByOtherBinding = (script: string, name: string): void => {
    const other = (scripts.activeVersion(script)?.bindings ?? []).find((b) => b.name === name && !isSecret(b));
    if (other) throw new CfApiError(400, 10053, `Binding name '${name}' already in use by a ${other.type} binding`);
  };
  const list = (name: string) =>
    (scripts.activeVersion(name)?.bindings ?? []).filter(isSecret).map((b) => ({ name: b.name, type: b.type }));

  router.on('GET', `${s}/secrets`, (req) => {
    requireScript(req.params.script!);
    return { result: list(req.params.script!) };
  });
  router.on('GET', `${s}/secrets/:name`, (req) => {
    requireScript(req.params.script!);
    const found = list(req.params.script!).find((x) => x.name === req.params.name);
    if (!found) throw new CfApiError(404, 10056, 'Secret not found');
    return { result: found };
  });
  router.on('PUT', `${s}/secrets`, (req) => {
    requireScript(req.params.script!);
    const body = jsonBody<SecretInput>(req);
    if (!body.name || typeof body.text !== 'string') throw new CfApiError(400, ErrorCodes.badRequest, 'A secret needs a name and a text');
    assertNotTakenByOtherBinding(req.params.script!, body.name);
    const binding: WorkerBinding = { name: body.name, type: body.type ?? 'secret_text', text: body.text };
    scripts.replaceBindings(req.params.script!, (bindings) => [...bindings.filter((b) => b.name !== body.name), binding]);
    return { result: { name: body.name, type: binding.type } };
  });
  router.on('DELETE', `${s}/secrets/:name`, (req) => {
    requireScript(req.params.script!);
    if (!list(req.params.script!).some((x) => x.name === req.params.name)) throw new CfApiError(404, 10056, 'Secret not found');
    scripts.replaceBindings(req.params.script!, (bindings) => bindings.filter((b) => b.name !== req.params.name));
    return { result: null };
  });
  // JSON merge patch: {secrets: {NAME: {name,text,type} | null}}
  router.on('PATCH', `${s}/secrets-bulk`, (req) => {
    requireScript(req.params.script!);
    const contentType = String(req.headers['content-type'] ?? '');
    if (!contentType.startsWith('application/merge-patch+json') && !contentType.startsWith('application/json')) {
      throw new CfApiError(415, ErrorCodes.badRequest, `Unsupported content type ${contentType}`);
    }
    const patch = jsonBody<{ secrets?: Record<string, SecretInput | null> }>(req).secrets ?? {};
    for (const [key, value] of Object.entries(patch)) {
      if (value !== null && typeof value.text !== 'string') throw new CfApiError(400, ErrorCodes.badRequest, `Secret ${key} has no text`);
      assertNotTakenByOtherBinding(req.params.script!, value?.name ?? key);
    }
    scripts.replaceBindings(req.params.script!, (bindings) => {
      let next = bindings;
      for (const [key, value] of Object.entries(patch)) {
        const name = value?.name ?? key;
        next = next.filter((b) => b.name !== name);
        if (value !== null) next.push({ name, type: value.type ?? 'secret_text', text: value.text });
      }
      return next;
    });
    return { result: list(req.params.script!) };
  });
}
