/** Remote write 1.0 codec: pure encode/decode and snappy, shared by the exporter and a future receiver. */
export { WriteRequestEncoder, encodeWriteRequest, STALE_NAN_BYTES, METADATA_TYPE, type EncoderOptions } from './encode.js';
export { decodeWriteRequest, remoteWriteTypes, staleSampleOffsets, REMOTE_WRITE_PROTO } from './decode.js';
export type { DecodedWriteRequest, DecodedSeries, DecodedSample, DecodedLabel, DecodedMetadata } from './decode.js';
export { snappyCompress, snappyUncompress } from './snappy.js';
export { ProtoWriter } from './writer.js';
