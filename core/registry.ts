/**
 * The component registry. `registerComponent` is the one way in: bin/ registers the built-ins
 * with it, and plugins call the very same function.
 */
import { PprofcolError } from './errors.js';
import { SIGNALS, type ComponentKind, type ExporterFactory, type Factory, type ProcessorFactory, type ReceiverFactory, type Signal } from './component.js';

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
  // What validate reads to check a pipeline's signal flow: without it the check would fail on
  // `undefined.includes` instead of naming the missing field.
  if (erased.kind === 'receiver' && !isSignal(erased.produces)) {
    throw new PprofcolError('ERR_BAD_FACTORY', `receiver "${erased.type}": a receiver factory needs produces: ${signalList()} (got ${describe(erased.produces)})`);
  }
  if (erased.kind !== 'receiver' && !(Array.isArray(erased.accepts) && erased.accepts.length > 0 && erased.accepts.every(isSignal))) {
    throw new PprofcolError('ERR_BAD_FACTORY', `${erased.kind} "${erased.type}": ${erased.kind === 'exporter' ? 'an' : 'a'} ${erased.kind} factory needs accepts: an array of ${signalList()}, as accepts: ['metrics'] (got ${describe(erased.accepts)})`);
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

function isSignal(value: unknown): value is Signal {
  return typeof value === 'string' && (SIGNALS as readonly string[]).includes(value);
}
function signalList(): string {
  return SIGNALS.map((s) => `'${s}'`).join(' or ');
}
function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
}
