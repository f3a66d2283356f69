/**
 * The effective configuration (`pprofcol config`): what each component's schema returned, defaults
 * filled and env expanded, written back in the file's own notation (durations as `15s`, sizes as
 * `64MiB`, not the milliseconds and bytes the code works with) with secrets masked.
 */
import { ZodArray, ZodDefault, ZodDiscriminatedUnion, ZodEffects, ZodLazy, ZodNullable, ZodObject, ZodOptional, ZodPipeline, ZodRecord, ZodUnion, type ZodTypeAny } from 'zod';
import { formatByteSize, formatDuration } from '../units.js';
import type { ResolvedConfig } from './load.js';
import { maskSecrets } from './mask.js';
import { serviceSchema } from './service.js';
import { byteSize, duration, outputShapeOf } from './types.js';

export function effectiveConfig(config: ResolvedConfig): Record<string, unknown> {
  const section = (components: ResolvedConfig['receivers']): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [id, c] of components) out[id] = render(c.factory.configSchema as unknown as ZodTypeAny, c.config);
    return out;
  };
  const out: Record<string, unknown> = {};
  if (config.plugins.length > 0) out.plugins = config.plugins;
  out.receivers = section(config.receivers);
  out.processors = section(config.processors);
  out.exporters = section(config.exporters);
  out.service = render(serviceSchema, config.service);
  return maskSecrets(out) as Record<string, unknown>;
}

/**
 * Walks a parsed value beside the schema that made it, turning what `duration` and `byteSize` made
 * back into text. A schema shape it does not know (a union it cannot tell apart) leaves the value as is.
 * Depth is the config's own: a schema is walked only as deep as the value goes.
 */
export function render(schema: ZodTypeAny, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (schema === (duration as ZodTypeAny)) return typeof value === 'number' ? formatDuration(value) : value;
  if (schema === (byteSize as ZodTypeAny)) return typeof value === 'number' ? formatByteSize(value) : value;
  const shape = outputShapeOf(schema);
  if (shape !== undefined) return render(shape, value);
  if (schema instanceof ZodDefault || schema instanceof ZodOptional || schema instanceof ZodNullable) return render(schema._def.innerType as ZodTypeAny, value);
  if (schema instanceof ZodEffects) return render(schema._def.schema as ZodTypeAny, value);
  if (schema instanceof ZodPipeline) return render(schema._def.out as ZodTypeAny, value);
  if (schema instanceof ZodLazy) return render(schema._def.getter() as ZodTypeAny, value);
  if (schema instanceof ZodArray && Array.isArray(value)) return value.map((item) => render(schema._def.type as ZodTypeAny, item));
  if (schema instanceof ZodRecord && isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = render(schema._def.valueType as ZodTypeAny, item);
    return out;
  }
  if (schema instanceof ZodObject && isObject(value)) {
    const shape = schema.shape as Record<string, ZodTypeAny>;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = key in shape ? render(shape[key], item) : item;
    return out;
  }
  if (schema instanceof ZodDiscriminatedUnion && isObject(value)) {
    const option = (schema.optionsMap as Map<unknown, ZodTypeAny>).get(value[schema.discriminator as string]);
    return option === undefined ? value : render(option, value);
  }
  if (schema instanceof ZodUnion) {
    // The first object option that has every key of the value: enough for the configs' unions (forms of one section).
    const options = schema._def.options as ZodTypeAny[];
    if (isObject(value)) {
      const option = options.find((o) => {
        const inner = unwrapObject(o);
        return inner !== undefined && Object.keys(value).every((k) => k in inner.shape);
      });
      if (option !== undefined) return render(option, value);
    }
    return value;
  }
  return value;
}

function unwrapObject(schema: ZodTypeAny): ZodObject<Record<string, ZodTypeAny>> | undefined {
  let at: ZodTypeAny = schema;
  for (let i = 0; i < 8; i++) {
    if (at instanceof ZodObject) return at as ZodObject<Record<string, ZodTypeAny>>;
    if (at instanceof ZodEffects) at = at._def.schema as ZodTypeAny;
    else if (at instanceof ZodDefault || at instanceof ZodOptional || at instanceof ZodNullable) at = at._def.innerType as ZodTypeAny;
    else return undefined;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
