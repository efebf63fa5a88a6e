import type { CallToolResult, ServerContext, ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { ToolConfig } from '../context.js';

/** One MCP tool: schema, Firecrawl-style description, annotations and the implementation. */
export interface ToolDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  inputSchema: S;
  annotations: ToolAnnotations;
  /** Registered only when this returns true (e.g. LLM features). Default: always. */
  enabled?: (cfg: ToolConfig) => boolean;
  /** Per-deployment variant of the schema/description (e.g. LLM options only when enabled). */
  configure?: (cfg: ToolConfig) => { inputSchema?: z.ZodObject; description?: string };
  run(args: z.output<S>, cfg: ToolConfig, ctx: ServerContext | undefined): Promise<CallToolResult>;
}

export function defineTool<S extends z.ZodObject>(def: ToolDef<S>): ToolDef<S> {
  return def;
}
