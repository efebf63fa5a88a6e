// The multipart Worker upload (`PUT …/scripts/NAME`, `POST …/scripts/NAME/versions`): metadata + module parts.
import { CfApiError, ErrorCodes } from './envelope.js';

export interface WorkerBinding {
  type: string;
  name: string;
  [key: string]: unknown;
}

export interface MigrationStep {
  new_classes?: string[];
  new_sqlite_classes?: string[];
  deleted_classes?: string[];
  renamed_classes?: Array<{ from: string; to: string }>;
  transferred_classes?: Array<{ from: string; from_script: string; to: string }>;
}

export interface Migrations {
  old_tag?: string;
  new_tag?: string;
  steps?: MigrationStep[];
}

export interface UploadMetadata {
  main_module?: string;
  body_part?: string;
  bindings?: WorkerBinding[];
  compatibility_date?: string;
  compatibility_flags?: string[];
  migrations?: Migrations;
  keep_bindings?: string[];
  annotations?: Record<string, string>;
  logpush?: boolean;
  observability?: unknown;
  tail_consumers?: unknown[];
  placement?: unknown;
  tags?: string[];
  [key: string]: unknown;
}

/** Module kinds as Miniflare names them. */
export type ModuleKind = 'ESModule' | 'CommonJS' | 'Text' | 'Data' | 'CompiledWasm' | 'PythonModule' | 'PythonRequirement';

export interface UploadedModule {
  name: string;
  kind: ModuleKind;
  contentType: string;
  contents: Uint8Array;
}

export interface ParsedUpload {
  metadata: UploadMetadata;
  /** main module first */
  modules: UploadedModule[];
  /** `.map` parts, kept only for inspection */
  sourceMaps: string[];
}

const KIND_BY_MIME: Record<string, ModuleKind> = {
  'application/javascript+module': 'ESModule',
  'text/javascript+module': 'ESModule',
  'application/javascript': 'CommonJS',
  'text/javascript': 'CommonJS',
  'text/plain': 'Text',
  'application/octet-stream': 'Data',
  'application/wasm': 'CompiledWasm',
  'text/x-python': 'PythonModule',
  'text/x-python-requirement': 'PythonRequirement',
};

export async function parseWorkerUpload(form: FormData): Promise<ParsedUpload> {
  const rawMetadata = form.get('metadata');
  if (rawMetadata === null) {
    throw new CfApiError(400, ErrorCodes.scriptValidation, 'No metadata part in the upload');
  }
  let metadata: UploadMetadata;
  try {
    metadata = JSON.parse(typeof rawMetadata === 'string' ? rawMetadata : await rawMetadata.text()) as UploadMetadata;
  } catch {
    throw new CfApiError(400, ErrorCodes.scriptValidation, 'Metadata part is not valid JSON');
  }
  const mainName = metadata.main_module ?? metadata.body_part;
  if (!mainName) {
    throw new CfApiError(400, ErrorCodes.scriptValidation, 'Metadata names no main_module or body_part');
  }
  const modules: UploadedModule[] = [];
  const sourceMaps: string[] = [];
  for (const [field, value] of form.entries()) {
    if (field === 'metadata' || typeof value === 'string') continue;
    const contentType = (value.type || 'application/octet-stream').split(';')[0]!.trim().toLowerCase();
    if (contentType === 'application/source-map' || field.endsWith('.map')) {
      sourceMaps.push(field);
      continue;
    }
    const kind: ModuleKind =
      field === metadata.body_part && contentType === 'application/javascript' ? 'CommonJS' : (KIND_BY_MIME[contentType] ?? 'Data');
    modules.push({ name: field, kind, contentType, contents: new Uint8Array(await value.arrayBuffer()) });
  }
  const mainIndex = modules.findIndex((m) => m.name === mainName);
  if (mainIndex === -1) {
    throw new CfApiError(400, ErrorCodes.scriptValidation, `No such module "${mainName}". The main module named in metadata was not uploaded.`);
  }
  const [main] = modules.splice(mainIndex, 1);
  modules.unshift(main!);
  return { metadata, modules, sourceMaps };
}

/** Bindings as the API shows them: secret values never leave the emulator. */
export function publicBinding(binding: WorkerBinding): WorkerBinding {
  if (binding.type === 'secret_text' || binding.type === 'secret_key') {
    return { name: binding.name, type: binding.type };
  }
  return { ...binding };
}
