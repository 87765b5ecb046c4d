#!/usr/bin/env node
'use strict';
// fsgate from Node.js: read, write, ls, stat, grep and glob through a real fsgate server.
//
//   node clients/node/cli.js [--target ADDR] [--token-file FILE] COMMAND PATH
//     stat PATH              one JSON object (FileInfo)
//     ls PATH [--depth N]    one JSON object per entry and line, page after page
//     read PATH              the content, to stdout
//     write PATH [--parents] [--create-new]   content from stdin; prints the result as JSON
//     grep PATTERN [PATH] [-F] [-i] [-C N] [-l] [-g GLOB]... [--hidden] [--no-ignore]
//          [--max-matches N]   one JSON object per match, then {"summary": ...}; exit 0
//                              on a match, 1 on none (as `fsgate grep --json`)
//     glob PATTERN [PATH] [--sort path|modified] [--exclude GLOB]... [--hidden]
//          [--no-ignore] [--max-results N]   one JSON object per entry (`fsgate glob --json`)
//
// A relative PATH (grep and glob default to ".") needs --cwd DIR, the server-side
// directory it is relative to.
//
// The JSON is exactly what the Python CLI prints with --json (`fsgate stat --json`,
// `fsgate ls --json`, `fsgate write --json`): the same fields with the same values.
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
      cwd: { type: 'string' },
      'fixed-strings': { type: 'boolean', short: 'F', default: false },
      'ignore-case': { type: 'boolean', short: 'i', default: false },
      context: { type: 'string', short: 'C', default: '0' },
      'files-with-matches': { type: 'boolean', short: 'l', default: false },
      glob: { type: 'string', short: 'g', multiple: true, default: [] },
      hidden: { type: 'boolean', default: false },
      'no-ignore': { type: 'boolean', default: false },
      'max-matches': { type: 'string', default: '0' },
      sort: { type: 'string', default: 'path' },
      exclude: { type: 'string', multiple: true, default: [] },
      'max-results': { type: 'string', default: '0' },
    },
  });
  const [command, ...rest] = positionals;
  const searching = command === 'grep' || command === 'glob';
  const [pattern, path] = searching ? [rest[0], rest[1] || '.'] : [undefined, rest[0]];
  const known = ['stat', 'ls', 'read', 'write', 'grep', 'glob'].includes(command);
  if (!known || !(searching ? pattern : path) || rest.length > (searching ? 2 : 1)) {
    process.stderr.write('usage: cli.js [--target ADDR] [--token-file FILE] '
      + '{stat|ls|read|write} PATH | {grep|glob} PATTERN [PATH]\n');
    return 2;
  }
  const target = values.target || process.env.FSGATE_TARGET || '127.0.0.1:50051';
  const tokenFile = values['token-file'] || process.env.FSGATE_TOKEN_FILE;
  const token = tokenFile ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined;
  const relative = !path.startsWith('/');
  const policy = values.cwd && relative ? { cwd: values.cwd } : undefined;
  const client = fsgate.connect(target, { token, policy });
  try {
    if (command === 'stat') {
      process.stdout.write(`${JSON.stringify(await client.stat(path))}\n`);
    } else if (command === 'ls') {
      const depth = Number.parseInt(values.depth, 10);
      for await (const entry of client.listDir(path, { depth })) {
        process.stdout.write(`${JSON.stringify(entry)}\n`);
      }
    } else if (command === 'grep') {
      const include = values.glob.filter((g) => !g.startsWith('!'));
      const exclude = values.glob.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
      const result = client.search(path, pattern, {
        fixedStrings: values['fixed-strings'], ignoreCase: values['ignore-case'],
        contextLines: Number.parseInt(values.context, 10), filesOnly: values['files-with-matches'],
        includeGlobs: include, excludeGlobs: exclude, includeHidden: values.hidden,
        includeIgnored: values['no-ignore'], maxMatches: Number.parseInt(values['max-matches'], 10),
      });
      for await (const match of result) process.stdout.write(`${JSON.stringify(match)}\n`);
      process.stdout.write(`${JSON.stringify({ summary: result.summary })}\n`);
      return result.summary.matches ? 0 : 1;
    } else if (command === 'glob') {
      const result = await client.glob(path, pattern, {
        excludeGlobs: values.exclude, includeHidden: values.hidden,
        includeIgnored: values['no-ignore'], sort: values.sort,
        maxResults: Number.parseInt(values['max-results'], 10),
      });
      for (const entry of result.entries) process.stdout.write(`${JSON.stringify(entry)}\n`);
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

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exitCode = 1;
});
