/**
 * Remote write codec, shared by the exporter and the receiver: pure encode and decode (1.0 and 2.0)
 * and snappy. test/core/remotewrite/reference-decoder.ts holds an independent protobufjs decoder
 * that the tests check these against.
 */
export { WriteRequestEncoder, encodeWriteRequest, STALE_NAN_BYTES, METADATA_TYPE, InvalidTimestampError, isValidTimestamp, withValidTimestamps, type EncoderOptions } from './encode.js';
export { snappyCompress, snappyUncompress } from './snappy.js';
export { ProtoWriter } from './writer.js';
