/**
 * Worker thread entry: parses one file_sd file off the main thread (see file-sd-parse.ts) and posts
 * the result back. One worker per large file read; it exits when done.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseFileSd, type FileSdLimits } from './file-sd-parse.js';

const { text, json, limits } = workerData as { text: string; json: boolean; limits: FileSdLimits };
parentPort?.postMessage(parseFileSd(text, json, limits));
