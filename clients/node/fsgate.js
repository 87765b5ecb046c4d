'use strict';
// A small Node.js client for fsgate, generated at run time from protos/ by
// @grpc/proto-loader (no generated code is checked in: the .proto files are the source).
//
//   const fsgate = require('./fsgate');
//   const client = fsgate.connect('unix:/run/fsgate.sock', { token });
//   const info = await client.stat('/ws/a.txt');
//   for await (const entry of client.listDir('/ws', { depth: 2 })) console.log(entry.name);
//   const { diff } = await client.editFile('/ws/a.txt', { oldText: 'foo', newText: 'bar' });
//   const last = await client.tail('/ws/app.log', 10); // ['line\n', ...]
//   const watch = await client.watch('/ws', { recursive: true });  // resolves once started
//   for await (const event of watch) console.log(event.type, event.path);  // break: cancel
//
// Results are plain objects in exactly the form the Python CLI prints with --json (see
// fsgate/_cli_json.py): FileInfo {path, type: "regular", size, mode: "0644",
// modified_time: "2024-05-06T07:08:09.123456Z", version, symlink_target}, entries
// {name, raw_name_base64, info}, writes {info, bytes_written}, removals {removed}, moves
// {info}, copies {info, bytes_copied, entries_copied}, edits {info, replacements, diff,
// diff_truncated}, search matches {path, line_number, line, line_truncated, before, after}
// and summaries {summary: {files_searched, matches, truncated}}, server info {version,
// backend, landlock_abi, roots: [{path, writable}], limits: {...}}, watch events {type:
// "created", path, old_path, is_dir} and {type: "overflow", dropped}; JSON.stringify of one
// is what `fsgate ... --json` prints for the same call or change.
//
// Every call has a deadline (callMs for unary calls, transferMs for a whole read or
// write stream, watchMs for a watch: a day, the server ends it sooner at its
// --max-watch-seconds). Failed calls reject with a FsgateError carrying the gRPC code and the
// google.rpc.ErrorInfo reason decoded from the `grpc-status-details-bin` trailer.

const path = require('node:path');
const { once } = require('node:events');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

/** The repository's protos/; FSGATE_PROTOS overrides it (e.g. for an installed copy). */
const PROTOS = process.env.FSGATE_PROTOS || path.resolve(__dirname, '..', '..', 'protos');
const VENDORED = path.join(__dirname, 'protos');

const DEFAULTS = {
  callMs: 30_000, transferMs: 300_000, watchMs: 86_400_000, chunkSize: 1 << 20,
};
// Events a watch holds for a slow consumer before it pauses the call (gRPC flow control
// then holds the server, which coalesces, or drops and reports an overflow).
const WATCH_QUEUE = 256;

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

/** UTC, always six fractional digits (microseconds, truncated), like the Python CLI. */
function timestamp(t) {
  const seconds = Number((t && t.seconds) || 0);
  const micros = Math.floor(((t && t.nanos) || 0) / 1000);
  const whole = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${whole}.${String(micros).padStart(6, '0')}Z`;
}

/** FileInfo in the shared JSON form: "regular", "0644", microsecond UTC timestamps. */
function fileInfo(info) {
  return {
    path: info.path,
    type: String(info.type || 'FILE_TYPE_UNSPECIFIED').replace(/^FILE_TYPE_/, '').toLowerCase(),
    size: info.size,
    mode: (info.mode || 0).toString(8).padStart(4, '0'),
    modified_time: timestamp(info.modified_time),
    version: info.version,
    symlink_target: info.symlink_target || null,
  };
}

/** A listing entry: raw_name_base64 holds the name's bytes when they are not UTF-8. */
function dirEntry(e) {
  return {
    name: e.name,
    raw_name_base64: e.raw_name && e.raw_name.length ? Buffer.from(e.raw_name).toString('base64')
      : null,
    info: fileInfo(e.info),
  };
}

/** GetServerInfo in the shared JSON form (fsgate/_cli_namespace.py server_info_json). */
function serverInfo(r) {
  const l = r.limits || {};
  return {
    version: r.version,
    backend: r.backend,
    landlock_abi: r.landlock_abi,
    roots: r.roots.map((root) => ({ path: root.path, writable: root.writable })),
    limits: {
      max_read_bytes: l.max_read_bytes,
      max_write_bytes: l.max_write_bytes,
      max_list_depth: l.max_list_depth,
      max_list_entries: l.max_list_entries,
      max_page_size: l.max_page_size,
      max_matches: l.max_matches,
      max_watches: l.max_watches,
    },
  };
}

/** Split bytes into lines as the server counts them: each ends with "\n" (the last may
 * not; a "\r" before it stays), decoded as UTF-8 (invalid bytes become U+FFFD). */
function splitLines(data) {
  const lines = [];
  let start = 0;
  for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
    lines.push(data.subarray(start, nl + 1).toString('utf8'));
    start = nl + 1;
  }
  if (start < data.length) lines.push(data.subarray(start).toString('utf8'));
  return lines;
}

/** One edit, or a list of them, as EditFile's wire edits: {oldText, newText, replaceAll}. */
function wireEdits(edits) {
  const list = Array.isArray(edits) ? edits : [edits];
  return list.map((e) => {
    if (!e || typeof e.oldText !== 'string' || typeof e.newText !== 'string') {
      throw new TypeError('an edit is {oldText: string, newText: string, replaceAll?: boolean}');
    }
    return { old_text: e.oldText, new_text: e.newText, replace_all: Boolean(e.replaceAll) };
  });
}

/** A search match in the shared JSON form (`fsgate grep --json`). */
function searchMatch(m) {
  return {
    path: m.path, line_number: m.line_number, line: m.line, line_truncated: m.line_truncated,
    before: [...m.before], after: [...m.after],
  };
}

/** A watch event: {type: "created" | "modified" | "deleted" | "moved" |
 * "attributes_changed", path, old_path (moved only, else null), is_dir}. */
function fileEvent(e) {
  return {
    type: String(e.type || '').replace(/^FILE_EVENT_TYPE_/, '').toLowerCase(),
    path: e.path,
    old_path: e.old_path || null,
    is_dir: Boolean(e.is_dir),
  };
}

/**
 * The matches of one Search call as an async iterable (`for await (const m of result)`);
 * `summary` ({files_searched, matches, truncated}) is set once it is exhausted. Breaking
 * out early cancels the call. Iterate it once.
 */
class SearchResult {
  constructor(start) {
    this.summary = null;
    this._start = start;
  }

  async* [Symbol.asyncIterator]() {
    const call = this._start();
    try {
      for await (const msg of call) {
        for (const m of msg.matches) yield searchMatch(m);
        if (msg.summary) {
          const s = msg.summary;
          this.summary = {
            files_searched: s.files_searched, matches: s.matches, truncated: s.truncated,
          };
        }
      }
    } catch (err) {
      throw toError(err);
    } finally {
      call.cancel(); // a no-op once the stream has ended
    }
    if (!this.summary) throw new Error('protocol error: Search ended without its summary');
  }
}

const asList = (globs) => (typeof globs === 'string' ? [globs] : [...globs]);

/**
 * Start a WatchDir stream; resolves to the open watch once the server has put every watch
 * in place ({watched_directories, cancel(), [Symbol.asyncIterator]}), rejects with its
 * FsgateError if it could not. Iterating yields events and {type: "overflow", dropped};
 * breaking out of the loop (or cancel()) ends the call, and the server kills its helper.
 * Any other end of the stream is thrown from the loop as a FsgateError.
 */
function startWatch(stub, request, md, ms) {
  return new Promise((resolve, reject) => {
    const call = stub.WatchDir(request, md, { deadline: deadline(ms) });
    const queue = [];
    let wake = null;
    let done = false;
    let failure = null;
    let started = false;
    let cancelled = false;
    const notify = () => {
      if (wake) {
        const w = wake;
        wake = null;
        w();
      }
    };
    const cancel = () => {
      cancelled = true;
      call.cancel();
    };
    const watch = (count) => ({
      watched_directories: count,
      cancel,
      async* [Symbol.asyncIterator]() {
        try {
          for (;;) {
            if (queue.length > 0) {
              const item = queue.shift();
              if (queue.length < WATCH_QUEUE / 4) call.resume();
              yield item;
            } else if (done) {
              if (failure) throw failure;
              return;
            } else {
              await new Promise((r) => { wake = r; });
            }
          }
        } finally {
          if (!done) cancel();
        }
      },
    });
    call.on('data', (msg) => {
      if (!started) {
        started = true;
        if (msg.payload === 'started') {
          resolve(watch(msg.started.watched_directories));
        } else {
          cancel();
          reject(new Error('protocol error: WatchDir did not start with started'));
        }
        return;
      }
      if (msg.payload === 'keepalive') return;
      queue.push(msg.payload === 'event' ? fileEvent(msg.event)
        : { type: 'overflow', dropped: msg.overflow.dropped });
      if (queue.length >= WATCH_QUEUE) call.pause();
      notify();
    });
    call.on('error', (err) => {
      if (!started) {
        started = true;
        reject(toError(err));
      } else if (!(cancelled && err.code === grpc.status.CANCELLED)) {
        failure = toError(err);
      }
      done = true;
      notify();
    });
    call.on('end', () => {
      done = true;
      notify();
    });
  });
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

  const unary = (method, request, ms = opts.callMs) => new Promise((resolve, reject) => {
    stub[method](request, metadata(), { deadline: deadline(ms) },
      (err, response) => (err ? reject(toError(err)) : resolve(response)));
  });

  const listDirPage = async (p, { depth = 1, pageSize = 0, pageToken = '' } = {}) => {
    const r = await unary('ListDir', {
      path: p, depth, page_size: pageSize, page_token: pageToken, ...sandbox,
    });
    return { entries: r.entries.map(dirEntry), next_page_token: r.next_page_token };
  };

  // A line window's bytes, in memory (a window, not a whole file).
  const collect = async (p, window) => {
    const parts = [];
    const sink = { write: (chunk) => { parts.push(Buffer.from(chunk)); return true; } };
    await client.readFile(p, sink, window);
    return Buffer.concat(parts);
  };

  const client = {
    /** FileInfo of one path. */
    async stat(p, { followSymlinks = false } = {}) {
      const r = await unary('Stat', { path: p, follow_symlinks: followSymlinks, ...sandbox });
      return fileInfo(r.info);
    },

    /** One page of a listing: {entries, next_page_token} ("" after the last page). */
    listDirPage,

    /**
     * Create a directory; resolves to its FileInfo. `parents`: missing ancestors too;
     * `existOk`: an existing directory is fine; `mode`: permission bits, set exactly
     * (0: 0o755).
     */
    async makeDir(p, { parents = false, existOk = false, mode = 0 } = {}) {
      const r = await unary('MakeDir', {
        path: p, parents, exist_ok: existOk, mode, ...sandbox,
      });
      return fileInfo(r.info);
    },

    /**
     * Remove a file, a symlink (the link itself) or a directory (`recursive`: with
     * everything below it, checked whole first); resolves to {removed}. `missingOk`: a
     * missing path is {removed: 0}; `ifVersion`: only if the version still matches.
     */
    async remove(p, { recursive = false, missingOk = false, ifVersion = '' } = {}) {
      const r = await unary('Remove', {
        path: p, recursive, missing_ok: missingOk, if_version: ifVersion, ...sandbox,
      });
      return { removed: r.removed };
    },

    /** The server's version, backend, the roots this caller may reach, its limits. */
    async serverInfo() {
      return serverInfo(await unary('GetServerInfo', {}));
    },

    /**
     * Every entry of a listing, sorted bytewise by relative path, as an async iterable:
     * `for await (const entry of client.listDir(path, {depth}))`. Pages are fetched as
     * iteration reaches them (one ListDir call each, with its own deadline); breaking out
     * early fetches no more. Not an array and not a promise: to collect everything,
     * `const all = []; for await (const e of client.listDir(p)) all.push(e);`.
     */
    async* listDir(p, { depth = 1, pageSize = 0 } = {}) {
      const seen = new Set();
      let pageToken = '';
      for (;;) {
        const page = await listDirPage(p, { depth, pageSize, pageToken });
        yield* page.entries;
        pageToken = page.next_page_token;
        if (!pageToken) return;
        if (seen.has(pageToken)) throw new Error('protocol error: ListDir repeated a page token');
        seen.add(pageToken);
      }
    },

    /**
     * Stream a regular file into `sink` (a Writable); resolves to its FileInfo. Options
     * ask for a line window instead of the whole file: lineOffset (0-based), lineLimit
     * (0: to the end), or tailLines (the last N, read backwards from the end).
     */
    readFile(p, sink, { lineOffset = 0, lineLimit = 0, tailLines = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const request = {
          path: p, line_offset: lineOffset, line_limit: lineLimit, tail_lines: tailLines,
          ...sandbox,
        };
        const call = stub.ReadFile(request, metadata(),
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

    /**
     * Rename `source` to `destination` (a symlink as the link); resolves to {info}. An
     * existing destination rejects ALREADY_EXISTS unless `overwrite`. Deadline: transferMs
     * (across file systems the server copies).
     */
    async move(source, destination, { overwrite = false, createParents = false } = {}) {
      const r = await unary('Move', {
        source, destination, overwrite, create_parents: createParents, ...sandbox,
      }, opts.transferMs);
      return { info: fileInfo(r.info) };
    },

    /**
     * Copy on the server; resolves to {info, bytes_copied, entries_copied}. A directory
     * needs `recursive`; symlinks are copied as links. Deadline: transferMs.
     */
    async copy(source, destination, { recursive = false, overwrite = false } = {}) {
      const r = await unary('Copy', {
        source, destination, recursive, overwrite, ...sandbox,
      }, opts.transferMs);
      return {
        info: fileInfo(r.info), bytes_copied: r.bytes_copied, entries_copied: r.entries_copied,
      };
    },

    /**
     * Replace exact text in a UTF-8 file, atomically: `edits` is {oldText, newText,
     * replaceAll} or a list of them, applied in order, each to the result of the one
     * before, all or nothing. Resolves to {info, replacements, diff, diff_truncated}.
     * Options: ifVersion (edit only that version, else ABORTED/VERSION_MISMATCH), dryRun.
     * A text that does not occur (or occurs more than once without replaceAll) rejects
     * with reason NO_MATCH / AMBIGUOUS_MATCH, and metadata {edit, count}.
     */
    async editFile(p, edits, { ifVersion = '', dryRun = false } = {}) {
      const r = await unary('EditFile', {
        path: p, edits: wireEdits(edits), if_version: ifVersion, dry_run: dryRun, ...sandbox,
      });
      return {
        info: fileInfo(r.info), replacements: r.replacements, diff: r.diff,
        diff_truncated: r.diff_truncated,
      };
    },

    /** Lines offset (0-based) to offset + limit (0: to the end), each with its "\n". */
    async readLines(p, { offset = 0, limit = 0 } = {}) {
      return splitLines(await collect(p, { lineOffset: offset, lineLimit: limit }));
    },

    /** The last n lines (n >= 1), each with its "\n"; a tail of a huge file is cheap. */
    async tail(p, n = 10) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError('tail needs n >= 1');
      return splitLines(await collect(p, { tailLines: n }));
    },

    /**
     * Search the files below `p` for `pattern` (RE2 regex, or a literal with fixedStrings):
     * a SearchResult, an async iterable of matches whose `summary` is set at the end.
     * Options: fixedStrings, ignoreCase, includeGlobs, excludeGlobs, includeHidden,
     * includeIgnored, contextLines, maxMatches, filesOnly. The deadline (transferMs)
     * covers the whole stream.
     */
    search(p, pattern, {
      fixedStrings = false, ignoreCase = false, includeGlobs = [], excludeGlobs = [],
      includeHidden = false, includeIgnored = false, contextLines = 0, maxMatches = 0,
      filesOnly = false,
    } = {}) {
      const request = {
        path: p, pattern, fixed_strings: fixedStrings, ignore_case: ignoreCase,
        include_globs: asList(includeGlobs), exclude_globs: asList(excludeGlobs),
        include_hidden: includeHidden, include_ignored: includeIgnored,
        context_lines: contextLines, max_matches: maxMatches, files_only: filesOnly, ...sandbox,
      };
      return new SearchResult(() => stub.Search(request, metadata(),
        { deadline: deadline(opts.transferMs) }));
    },

    /**
     * The entries below the directory `p` matching `patterns` (a glob or several,
     * gitignore-style): {entries, truncated}, entries in the listing form.
     * Options: excludeGlobs, includeHidden, includeIgnored, sort ("path" | "modified"),
     * maxResults.
     */
    async glob(p, patterns, {
      excludeGlobs = [], includeHidden = false, includeIgnored = false, sort = 'path',
      maxResults = 0,
    } = {}) {
      const r = await unary('Glob', {
        path: p, patterns: asList(patterns), exclude_globs: asList(excludeGlobs),
        include_hidden: includeHidden, include_ignored: includeIgnored,
        sort: sort === 'modified' ? 'GLOB_SORT_MODIFIED_DESC' : 'GLOB_SORT_PATH',
        max_results: maxResults, ...sandbox,
      });
      return { entries: r.entries.map(dirEntry), truncated: r.truncated };
    },

    /**
     * Watch a directory: `const w = await client.watch(p, {recursive, include, exclude})`,
     * then `for await (const event of w)`. Globs are gitignore-style, relative to `p`.
     */
    watch(p, { recursive = false, include = [], exclude = [] } = {}) {
      return startWatch(stub, {
        path: p, recursive, include_globs: include, exclude_globs: exclude, ...sandbox,
      }, metadata(), opts.watchMs);
    },

    close() {
      stub.close();
    },
  };
  return client;
}

module.exports = {
  connect, FsgateError, fileInfo, dirEntry, serverInfo, splitLines, searchMatch, SearchResult,
  fileEvent, PROTOS,
};
