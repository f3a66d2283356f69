/**
 * The component registry. `registerComponent` is the one way in: bin/ registers the built-ins
 * with it, and plugins call the very same function.
 */
import { PprofcolError } from './errors.js';
import type { ComponentKind, ExporterFactory, Factory, ProcessorFactory, ReceiverFactory } from './component.js';

const factories: Record<ComponentKind, Map<string, Factory>> = {
  receiver: new Map(),
  processor: new Map(),
  exporter: new Map(),
};


export function registerComponent<C>(factory: ReceiverFactory<C> | ProcessorFactory<C> | ExporterFactory<C>): void {
  const erased = factory as unknown as Factory;
  if (!['receiver', 'processor', 'exporter'].includes(erased.kind)) {
    throw new PprofcolError('ERR_BAD_FACTORY', `factory "${String(erased.type)}": kind must be receiver, processor or exporter`);
  }
  if (typeof erased.type !== 'string' || !/^[A-Za-z0-9_]+$/.test(erased.type)) {
    throw new PprofcolError('ERR_BAD_FACTORY', `factory type "${String(erased.type)}" must be letters, digits and _`);
  }
  if (typeof erased.create !== 'function' || typeof erased.configSchema?.safeParse !== 'function') {
    throw new PprofcolError('ERR_BAD_FACTORY', `${erased.kind} "${erased.type}": a factory needs create() and a configSchema`);
  }
  const known = factories[erased.kind].get(erased.type);
  if (known === erased) return; // registering the same factory twice is harmless
  if (known !== undefined) {
    throw new PprofcolError('ERR_DUPLICATE_COMPONENT', `${erased.kind} type "${erased.type}" is already registered`);
  }
  factories[erased.kind].set(erased.type, erased);
}

export function factoryOf(kind: ComponentKind, type: string): Factory | undefined {
  return factories[kind].get(type);
}
export function registeredTypes(kind: ComponentKind): string[] {
  return [...factories[kind].keys()].sort();
}
