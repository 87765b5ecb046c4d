'use strict';
// A small Node.js client for fsgate, generated at run time from protos/ by
// @grpc/proto-loader (no generated code is checked in: the .proto files are the source).
//
//   const fsgate = require('./fsgate');
//   const client = fsgate.connect('unix:/run/fsgate.sock', { token });
//   const info = await client.stat('/ws/a.txt');
//
// Every call has a deadline (callMs for unary calls, transferMs for a whole read or
// write stream). Failed calls reject with a FsgateError carrying the gRPC code and the
// google.rpc.ErrorInfo reason decoded from the `grpc-status-details-bin` trailer.

const path = require('node:path');
const { once } = require('node:events');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

/** The repository's protos/; FSGATE_PROTOS overrides it (e.g. for an installed copy). */
const PROTOS = process.env.FSGATE_PROTOS || path.resolve(__dirname, '..', '..', 'protos');
const VENDORED = path.join(__dirname, 'protos');

const DEFAULTS = { callMs: 30_000, transferMs: 300_000, chunkSize: 1 << 20 };

const packageDefinition = protoLoader.loadSync('fsgate/v1/fsgate.proto', {
  includeDirs: [PROTOS],
  keepCase: true, // field names exactly as in the proto: readable_roots, next_page_token
  longs: Number, // uint64 sizes; exact below 2^53 bytes
  enums: String, // "FILE_TYPE_REGULAR"
  defaults: true,
  oneofs: true, // msg.payload names the oneof member that is set
});
const { FileSystemService } = grpc.loadPackageDefinition(packageDefinition).fsgate.v1;

const rpcRoot = protobuf.loadSync([
  path.join(VENDORED, 'google', 'rpc', 'status.proto'),
  path.join(VENDORED, 'google', 'rpc', 'error_details.proto'),
]);
const Status = rpcRoot.lookupType('google.rpc.Status');
const ErrorInfo = rpcRoot.lookupType('google.rpc.ErrorInfo');
const ERROR_INFO_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

/** A failed call: `code` (number), `codeName` ("NOT_FOUND"), `reason`, `domain`, `metadata`. */
class FsgateError extends Error {
  constructor(err) {
    super(err.details || err.message);
    this.name = 'FsgateError';
    this.code = err.code;
    this.codeName = CODE_NAMES[err.code] || String(err.code);
    this.reason = null;
    this.domain = null;
    this.metadata = {};
    const raw = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
    if (raw.length > 0) {
      const status = Status.decode(raw[0]);
      for (const detail of status.details) {
        if (detail.type_url === ERROR_INFO_URL) {
          const info = ErrorInfo.decode(detail.value);
          this.reason = info.reason;
          this.domain = info.domain;
          this.metadata = { ...info.metadata };
          break;
        }
      }
    }
  }

  toJSON() {
    return {
      code: this.code, codeName: this.codeName, message: this.message,
      reason: this.reason, domain: this.domain, metadata: this.metadata,
    };
  }
}

function toError(err) {
  return err && err.code !== undefined && err.metadata ? new FsgateError(err) : err;
}

/** FileInfo with a plain ISO timestamp and the enum name of its type. */
function fileInfo(info) {
  const t = info.modified_time || { seconds: 0, nanos: 0 };
  const ms = Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
  return {
    path: info.path,
    type: info.type,
    size: info.size,
    mode: info.mode,
    modified_time: new Date(ms).toISOString(),
    version: info.version,
    symlink_target: info.symlink_target || null,
  };
}

function deadline(ms) {
  return new Date(Date.now() + ms);
}

/**
 * Connect to an fsgate server. `target` is "host:port" or "unix:/path".
 * Options: token (bearer token), policy (SandboxPolicy fields, sent with every call),
 * callMs, transferMs, chunkSize.
 */
function connect(target, options = {}) {
  const opts = { ...DEFAULTS, ...options };
  const stub = new FileSystemService(target, grpc.credentials.createInsecure());
  const metadata = () => {
    const md = new grpc.Metadata();
    if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
    return md;
  };
  const sandbox = opts.policy ? { sandbox: opts.policy } : {};

  const unary = (method, request) => new Promise((resolve, reject) => {
    stub[method](request, metadata(), { deadline: deadline(opts.callMs) },
      (err, response) => (err ? reject(toError(err)) : resolve(response)));
  });

  return {
    /** FileInfo of one path. */
    async stat(p, { followSymlinks = false } = {}) {
      const r = await unary('Stat', { path: p, follow_symlinks: followSymlinks, ...sandbox });
      return fileInfo(r.info);
    },

    /** Every entry of a listing, page after page (each page one call with a deadline). */
    async listDir(p, { depth = 1, pageSize = 0 } = {}) {
      const entries = [];
      let token = '';
      for (let pages = 0; ; pages += 1) {
        const r = await unary('ListDir', {
          path: p, depth, page_size: pageSize, page_token: token, ...sandbox,
        });
        for (const e of r.entries) {
          entries.push({ name: e.name, raw_name: e.raw_name.length ? e.raw_name : null,
            info: fileInfo(e.info) });
        }
        token = r.next_page_token;
        if (!token) return entries;
        if (pages > 1_000_000) throw new Error('ListDir never ended');
      }
    },

    /** Stream a regular file into `sink` (a Writable); resolves to its FileInfo. */
    readFile(p, sink) {
      return new Promise((resolve, reject) => {
        const call = stub.ReadFile({ path: p, ...sandbox }, metadata(),
          { deadline: deadline(opts.transferMs) });
        let info = null;
        call.on('data', (msg) => {
          if (msg.payload === 'info') {
            info = fileInfo(msg.info);
          } else if (!sink.write(msg.data)) {
            call.pause(); // backpressure: one chunk at a time in memory
            sink.once('drain', () => call.resume());
          }
        });
        call.on('error', (err) => reject(toError(err)));
        call.on('end', () => resolve(info));
      });
    },

    /** Create or atomically replace a file with the chunks of `source` (async iterable). */
    async writeFile(p, source, { createParents = false, createNew = false } = {}) {
      let finished = false;
      let call;
      const result = new Promise((resolve, reject) => {
        call = stub.WriteFile(metadata(), { deadline: deadline(opts.transferMs) },
          (err, response) => {
            finished = true;
            if (err) reject(toError(err));
            else resolve({ info: fileInfo(response.info), bytes_written: response.bytes_written });
          });
      });
      result.catch(() => {}); // observed below; an early rejection is not "unhandled"
      call.write({ header: {
        path: p, create_parents: createParents, ...sandbox,
        mode: createNew ? 'WRITE_MODE_CREATE_NEW' : 'WRITE_MODE_REPLACE',
      } });
      try {
        for await (const chunk of source) {
          if (finished) break; // the server already answered (a rejection)
          for (let i = 0; i < chunk.length; i += opts.chunkSize) {
            if (!call.write({ data: chunk.subarray(i, i + opts.chunkSize) })) {
              await Promise.race([once(call, 'drain'), result.catch(() => {})]);
            }
          }
        }
      } catch (err) {
        call.cancel(); // never half-close after a failure: that would commit a partial file
        throw err;
      }
      call.end();
      return result;
    },

    close() {
      stub.close();
    },
  };
}

module.exports = { connect, FsgateError, fileInfo, PROTOS };
