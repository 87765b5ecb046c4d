#!/usr/bin/env node
'use strict';
// fsgate from Node.js: read, write, ls and stat through a real fsgate server.
//
//   node clients/node/cli.js [--target ADDR] [--token-file FILE] COMMAND PATH
//     stat PATH              one JSON object (FileInfo)
//     ls PATH [--depth N]    one JSON object per entry and line, page after page
//     read PATH              the content, to stdout
//     write PATH [--parents] [--create-new]   content from stdin; prints the result as JSON
//     watch PATH [-r] [--include GLOB]... [--exclude GLOB]...
//                            {"type":"started",...}, then one JSON object per change and
//                            line, until Ctrl-C (exit 130)
//
// The JSON is exactly what the Python CLI prints with --json (`fsgate stat --json`,
// `fsgate ls --json`, `fsgate write --json`, `fsgate watch --json`): the same fields with
// the same values.
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
      parents: { type: 'boolean', default: false },
      'create-new': { type: 'boolean', default: false },
      recursive: { type: 'boolean', short: 'r', default: false },
      include: { type: 'string', multiple: true, default: [] },
      exclude: { type: 'string', multiple: true, default: [] },
    },
  });
  const [command, path] = positionals;
  if (!['stat', 'ls', 'read', 'write', 'watch'].includes(command) || !path
      || positionals.length > 2) {
    process.stderr.write('usage: cli.js [--target ADDR] [--token-file FILE] '
      + '{stat|ls|read|write|watch} PATH\n');
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
    } else if (command === 'watch') {
      return await watch(client, path, values);
    } else if (command === 'read') {
      await client.readFile(path, process.stdout);
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

async function watch(client, path, values) {
  const w = await client.watch(path, {
    recursive: values.recursive, include: values.include, exclude: values.exclude,
  });
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    w.cancel();
  });
  process.stdout.on('error', () => w.cancel()); // the reader went away: a normal end
  process.stdout.write(`${JSON.stringify({
    type: 'started', watched_directories: w.watched_directories,
  })}\n`);
  for await (const event of w) process.stdout.write(`${JSON.stringify(event)}\n`);
  return interrupted ? 130 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exitCode = 1;
});
