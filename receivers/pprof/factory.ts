/** Factory of the pprof receiver: type `pprof`, produces profiles. */
import type { ReceiverFactory } from '../../core/component.js';
import { configSchema, type PprofReceiverConfig } from './config.js';
import { PprofReceiver } from './receiver.js';

export const pprofReceiverFactory: ReceiverFactory<PprofReceiverConfig> = {
  kind: 'receiver',
  type: 'pprof',
  produces: 'profiles',
  configSchema,
  create: (settings, config, next) => new PprofReceiver(settings, config, next),
};
