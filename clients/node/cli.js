#!/usr/bin/env node
'use strict';
// fsgate from Node.js: every client command through a real fsgate server.
//
//   node clients/node/cli.js [--target ADDR] [--token-file FILE] COMMAND ...
//     stat PATH              one JSON object (FileInfo)
//     ls PATH [--depth N]    one JSON object per entry and line, page after page
//     read PATH [--lines A:B | --tail N]     the content (or those lines), to stdout
//     write PATH [--parents] [--create-new]   content from stdin; prints the result as JSON
//     mkdir [-p] [--mode OCTAL] PATH          the directory's FileInfo
//     rm [-r] [-f] [--if-version V] PATH      {"removed": N}
//     mv SRC DST [--overwrite] [--parents]     prints {info}
//     cp SRC DST [-r|--recursive] [--overwrite]   prints {info, bytes_copied, entries_copied}
//     edit PATH --old TEXT --new TEXT [--old TEXT --new TEXT ...] [--all] [--dry-run]
//          [--if-version V]                    prints the result as JSON
//     info                                    the server's version, backend, roots, limits
//
// The JSON is exactly what the Python CLI prints with --json (`fsgate stat --json`,
// `fsgate ls --json`, `fsgate write --json`, `fsgate mkdir --json`, ...): the same fields
// with the same values. --lines A:B counts from 1 and includes both ends, as `fsgate
// read`. Unlike the Python `rm`, this one does not refuse a directory without -r: it sends
// Remove as asked (an empty directory is removed, a non-empty one fails NOT_EMPTY).
//
// ADDR defaults to $FSGATE_TARGET, else 127.0.0.1:50051. A failed call prints
// {"error": {code, codeName, message, reason, domain, metadata}} to stderr and exits with
// the fsgate CLI's codes: 3 not found, 4 denied, 5 already exists / version mismatch,
// 2 invalid argument, 1 anything else (an edit's NO_MATCH / AMBIGUOUS_MATCH among them).

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const fsgate = require('./fsgate');

const EXIT = {
  INVALID_ARGUMENT: 2, NOT_FOUND: 3, PERMISSION_DENIED: 4, UNAUTHENTICATED: 4,
  ALREADY_EXISTS: 5, ABORTED: 5,
};

/** --lines A:B (1-based, both ends; A: to the end) or --tail N as readFile options; null
 * when malformed. */
function lineWindow(values) {
  if (values.lines !== undefined && values.tail !== undefined) return null;
  if (values.tail !== undefined) {
    const n = Number(values.tail);
    return Number.isInteger(n) && n >= 1 ? { tailLines: n } : null;
  }
  if (values.lines === undefined) return {};
  const m = /^(\d*)(:?)(\d*)$/.exec(values.lines);
  if (!m || (!m[1] && !m[3])) return null;
  const first = m[1] ? Number(m[1]) : 1;
  const last = m[3] ? Number(m[3]) : (m[2] ? 0 : first);
  if (first < 1 || (last && last < first)) return null;
  return { lineOffset: first - 1, lineLimit: last ? last - first + 1 : 0 };
}

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      target: { type: 'string' },
      'token-file': { type: 'string' },
      depth: { type: 'string', default: '1' },
      parents: { type: 'boolean', short: 'p', default: false },
      'create-new': { type: 'boolean', default: false },
      // rm -r -f (mkdir -p is --parents, above); cp -r
      recursive: { type: 'boolean', short: 'r', default: false },
      force: { type: 'boolean', short: 'f', default: false },
      mode: { type: 'string', default: '0' },
      'if-version': { type: 'string', default: '' },
      overwrite: { type: 'boolean', default: false },
      // edit; read --lines/--tail
      old: { type: 'string', multiple: true, default: [] },
      new: { type: 'string', multiple: true, default: [] },
      all: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      lines: { type: 'string' },
      tail: { type: 'string' },
    },
  });
  const [command, path, destination] = positionals;
  const pathless = command === 'info';
  const pair = ['mv', 'cp'].includes(command);
  const wanted = pathless ? 1 : (pair ? 3 : 2);
  const window = command === 'read' ? lineWindow(values) : {};
  const commands = ['stat', 'ls', 'read', 'write', 'mkdir', 'rm', 'info', 'mv', 'cp', 'edit'];
  if (!commands.includes(command)
      || (!pathless && !path) || positionals.length > wanted
      || (pair && positionals.length !== wanted) || window === null
      || (command === 'edit' && (values.old.length === 0
        || values.old.length !== values.new.length))) {
    process.stderr.write('usage: cli.js [--target ADDR] [--token-file FILE] '
      + '{stat|ls|read|write|mkdir|rm|edit} PATH | {mv|cp} SRC DST | info '
      + '(edit: --old TEXT --new TEXT, paired)\n');
    return 2;
  }
  const target = values.target || process.env.FSGATE_TARGET || '127.0.0.1:50051';
  const tokenFile = values['token-file'] || process.env.FSGATE_TOKEN_FILE;
  const token = tokenFile ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined;
  const client = fsgate.connect(target, { token });
  try {
    if (command === 'stat') {
      process.stdout.write(`${JSON.stringify(await client.stat(path))}\n`);
    } else if (command === 'ls') {
      const depth = Number.parseInt(values.depth, 10);
      for await (const entry of client.listDir(path, { depth })) {
        process.stdout.write(`${JSON.stringify(entry)}\n`);
      }
    } else if (command === 'mv') {
      const result = await client.move(path, destination, {
        overwrite: values.overwrite, createParents: values.parents,
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (command === 'cp') {
      const result = await client.copy(path, destination, {
        recursive: values.recursive, overwrite: values.overwrite,
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (command === 'read') {
      await client.readFile(path, process.stdout, window);
    } else if (command === 'mkdir') {
      const info = await client.makeDir(path, {
        parents: values.parents, existOk: values.parents, mode: Number.parseInt(values.mode, 8),
      });
      process.stdout.write(`${JSON.stringify(info)}\n`);
    } else if (command === 'rm') {
      const result = await client.remove(path, {
        recursive: values.recursive, missingOk: values.force, ifVersion: values['if-version'],
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (command === 'info') {
      process.stdout.write(`${JSON.stringify(await client.serverInfo())}\n`);
    } else if (command === 'edit') {
      const edits = values.old.map((oldText, i) => ({
        oldText, newText: values.new[i], replaceAll: values.all,
      }));
      const result = await client.editFile(path, edits, {
        ifVersion: values['if-version'], dryRun: values['dry-run'],
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const result = await client.writeFile(path, process.stdin, {
        createParents: values.parents, createNew: values['create-new'],
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof fsgate.FsgateError)) throw err;
    process.stderr.write(`${JSON.stringify({ error: err })}\n`);
    return EXIT[err.codeName] || 1;
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exitCode = 1;
});
