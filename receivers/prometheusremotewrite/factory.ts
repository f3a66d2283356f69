/** Factory of the prometheusremotewrite receiver: type `prometheusremotewrite`, produces metrics. */
import type { ReceiverFactory } from '../../core/component.js';
import { configSchema, type RemoteWriteReceiverConfig } from './config.js';
import { RemoteWriteReceiver } from './receiver.js';

export const prometheusRemoteWriteReceiverFactory: ReceiverFactory<RemoteWriteReceiverConfig> = {
  kind: 'receiver',
  type: 'prometheusremotewrite',
  produces: 'metrics',
  configSchema,
  listeners: (config) => [{ key: 'endpoint', address: config.endpoint, security: config }],
  create: (settings, config, next) => new RemoteWriteReceiver(settings, config, next),
};
