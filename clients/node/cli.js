#!/usr/bin/env node
'use strict';
// fsgate from Node.js: read, write, ls, stat, mv and cp through a real fsgate server.
//
//   node clients/node/cli.js [--target ADDR] [--token-file FILE] COMMAND PATH
//     stat PATH              one JSON object (FileInfo)
//     ls PATH [--depth N]    one JSON object per entry and line, page after page
//     read PATH              the content, to stdout
//     write PATH [--parents] [--create-new]   content from stdin; prints the result as JSON
//     mkdir [-p] [--mode OCTAL] PATH          the directory's FileInfo
//     rm [-r] [-f] [--if-version V] PATH      {"removed": N}
//     info                                    the server's version, backend, roots, limits
//
// The JSON is exactly what the Python CLI prints with --json (`fsgate stat --json`,
// `fsgate ls --json`, `fsgate write --json`, `fsgate mkdir --json`, `fsgate rm --json`,
// `fsgate info --json`): the same fields with the same values. Unlike the Python `rm`,
// this one does not refuse a directory without -r: it sends Remove as asked (an empty
// directory is removed, a non-empty one fails NOT_EMPTY).
//     mv SRC DST [--overwrite] [--parents]     prints {info}
//     cp SRC DST [-r|--recursive] [--overwrite]   prints {info, bytes_copied, entries_copied}
//
// The JSON is exactly what the Python CLI prints with --json (`fsgate stat --json`,
// `fsgate ls --json`, `fsgate write --json`, `fsgate mv --json`, `fsgate cp --json`): the
// same fields with the same values.
//
// ADDR defaults to $FSGATE_TARGET, else 127.0.0.1:50051. A failed call prints
// {"error": {code, codeName, message, reason, domain, metadata}} to stderr and exits with
// the fsgate CLI's codes: 3 not found, 4 denied, 5 already exists / version mismatch,
// 2 invalid argument, 1 anything else.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const fsgate = require('./fsgate');

const EXIT = {
  INVALID_ARGUMENT: 2, NOT_FOUND: 3, PERMISSION_DENIED: 4, UNAUTHENTICATED: 4,
  ALREADY_EXISTS: 5, ABORTED: 5,
};

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
    },
  });
  const [command, path, destination] = positionals;
  const pathless = command === 'info';
  const pair = ['mv', 'cp'].includes(command);
  const wanted = pathless ? 1 : (pair ? 3 : 2);
  if (!['stat', 'ls', 'read', 'write', 'mkdir', 'rm', 'info', 'mv', 'cp'].includes(command)
      || (!pathless && !path) || positionals.length > wanted
      || (pair && positionals.length !== wanted)) {
    process.stderr.write('usage: cli.js [--target ADDR] [--token-file FILE] '
      + '{stat|ls|read|write|mkdir|rm} PATH | {mv|cp} SRC DST | info\n');
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
      await client.readFile(path, process.stdout);
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
