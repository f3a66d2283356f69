/** Factory of the prometheus receiver: type `prometheus`, produces metrics. */
import type { ReceiverFactory } from '../../core/component.js';
import { configSchema, type PrometheusReceiverConfig } from './config.js';
import { PrometheusReceiver } from './receiver.js';

export const prometheusReceiverFactory: ReceiverFactory<PrometheusReceiverConfig> = {
  kind: 'receiver',
  type: 'prometheus',
  produces: 'metrics',
  configSchema,
  create: (settings, config, next) => new PrometheusReceiver(settings, config, next),
};
