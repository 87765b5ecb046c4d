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
//     grep PATTERN [PATH] [-F] [-i] [-C N] [-l] [-g GLOB]... [--hidden] [--no-ignore]
//          [--max-matches N]   one JSON object per match, then {"summary": ...}; exit 0
//                              on a match, 1 on none (as `fsgate grep --json`)
//     glob PATTERN [PATH] [--sort path|modified] [--exclude GLOB]... [--hidden]
//          [--no-ignore] [--max-results N]   one JSON object per entry (`fsgate glob --json`)
//     watch PATH [-r] [--include GLOB]... [--exclude GLOB]...
//                            {"type":"started",...}, then one JSON object per change and
//                            line, until Ctrl-C (exit 130)
//
// A relative PATH (grep and glob default to ".") needs --cwd DIR, the server-side
// directory it is relative to.
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
      // grep and glob
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
      // watch (-r and --exclude above)
      include: { type: 'string', multiple: true, default: [] },
    },
  });
  const [command, ...rest] = positionals;
  const searching = command === 'grep' || command === 'glob';
  const pathless = command === 'info';
  const pair = ['mv', 'cp'].includes(command);
  let pattern;
  let path;
  let destination;
  if (searching) [pattern, path] = [rest[0], rest[1] || '.'];
  else [path, destination] = rest;
  const most = searching || pair ? 2 : (pathless ? 0 : 1);
  const window = command === 'read' ? lineWindow(values) : {};
  const commands = ['stat', 'ls', 'read', 'write', 'mkdir', 'rm', 'info', 'mv', 'cp', 'edit',
    'grep', 'glob', 'watch'];
  if (!commands.includes(command) || rest.length > most
      || (searching ? !pattern : (!pathless && !path)) || (pair && rest.length !== 2)
      || window === null
      || (command === 'edit' && (values.old.length === 0
        || values.old.length !== values.new.length))) {
    process.stderr.write('usage: cli.js [--target ADDR] [--token-file FILE] '
      + '{stat|ls|read|write|mkdir|rm|edit|watch} PATH | {mv|cp} SRC DST | '
      + '{grep|glob} PATTERN [PATH] | info (edit: --old TEXT --new TEXT, paired)\n');
    return 2;
  }
  const target = values.target || process.env.FSGATE_TARGET || '127.0.0.1:50051';
  const tokenFile = values['token-file'] || process.env.FSGATE_TOKEN_FILE;
  const token = tokenFile ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined;
  const relative = path !== undefined && !path.startsWith('/');
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
    } else if (command === 'watch') {
      return await watch(client, path, values);
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
