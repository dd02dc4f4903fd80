// Builds the optional native kernels (native/build/Release/alp_native.node).
//
// Never fails the install: on any problem it prints ONE line saying why and
// exits 0, and alp uses its wasm kernels. Does nothing (quickly) when the
// addon is already built from the current sources.
//
//   node native/build.mjs           build if needed
//   node native/build.mjs --force   rebuild
//   ALP_NO_NATIVE=1                 skip (and index.cjs will not load the addon)
//   ALP_OPENBLAS_INCLUDE / ALP_OPENBLAS_LIB   extra dirs holding cblas.h / libopenblas.so
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const buildDir = path.join(here, 'build');
const addonPath = path.join(buildDir, 'Release', 'alp_native.node');
const stampPath = path.join(buildDir, 'alp-src.sha256');
const logPath = path.join(buildDir, 'build.log');
const rel = (p) => path.relative(process.cwd(), p) || '.';
const FALLBACK = 'using wasm kernels';

function done(line) {
  if (line) console.log(line);
  process.exit(0);
}
function notBuilt(reason) {
  done(`alp: native kernels not built (${reason}); ${FALLBACK}`);
}

try {
  main();
} catch (e) {
  notBuilt(`unexpected error in native/build.mjs: ${e && e.message ? e.message : e}`);
}

function main() {
  if (/^(1|true|yes)$/i.test(process.env.ALP_NO_NATIVE || '')) {
    done(`alp: native kernels skipped (ALP_NO_NATIVE=${process.env.ALP_NO_NATIVE}); ${FALLBACK}`);
  }
  if (process.platform !== 'linux') notBuilt(`platform ${process.platform} is not supported, Linux only`);

  const stamp = sourceHash();
  const force = process.argv.includes('--force');
  if (!force && fs.existsSync(addonPath) && readText(stampPath) === stamp) done('');
  // Out of date: drop the old build first so that a failed build never leaves
  // a stale addon behind for index.cjs to load.
  fs.rmSync(buildDir, { recursive: true, force: true });

  const cc = findCompiler();
  if (!cc) notBuilt('no C compiler found: apt-get install build-essential');
  const include = findCblasInclude();
  if (!include) notBuilt('OpenBLAS headers not found: apt-get install libopenblas-dev');
  const libDir = findOpenblasLib();
  if (!libDir) notBuilt('OpenBLAS library not found: apt-get install libopenblas-dev');

  fs.mkdirSync(buildDir, { recursive: true });
  const log = [];

  let ok = false;
  const gyp = findNodeGyp();
  const nodeInc = findNodeHeaders();
  if (gyp) {
    const args = [gyp, 'rebuild', '--release'];
    if (!process.env.npm_config_nodedir && nodeInc) args.push(`--nodedir=${nodeInc.prefix}`);
    const env = { ...process.env };
    env.CPPFLAGS = `${env.CPPFLAGS || ''} -I${include}`.trim();
    env.LDFLAGS = `${env.LDFLAGS || ''} -L${libDir}`.trim();
    const r = run(process.execPath, args, { env, timeout: 300_000 });
    log.push(`$ node ${args.join(' ')}`, r.out);
    ok = r.ok && fs.existsSync(addonPath);
  }
  if (!ok && nodeInc) {
    // Fallback without node-gyp/python/make: one compiler call.
    fs.mkdirSync(path.dirname(addonPath), { recursive: true });
    const tmp = `${addonPath}.tmp`;
    const args = [
      '-shared', '-fPIC', '-pthread', '-std=gnu11', '-O3', '-fno-math-errno', '-ffp-contract=off', '-fno-trapping-math', '-Wall',
      ...(process.arch === 'x64' ? ['-march=x86-64-v2', '-mtune=generic'] : []),
      `-I${nodeInc.include}`, `-I${include}`,
      path.join(here, 'src', 'alp_native.c'),
      '-o', tmp, `-L${libDir}`, '-lopenblas', '-lpthread', '-lm',
    ];
    const r = run(cc, args, { timeout: 180_000 });
    log.push(`$ ${cc} ${args.join(' ')}`, r.out);
    if (r.ok && fs.existsSync(tmp)) {
      fs.renameSync(tmp, addonPath);
      ok = true;
    }
  }
  writeLog(log);
  if (!ok) {
    fs.rmSync(addonPath, { force: true });
    const why = !gyp && !nodeInc
      ? 'neither node-gyp nor Node headers found'
      : `compile failed: ${firstError(log.join('\n'))}; see ${rel(logPath)}`;
    notBuilt(why);
  }

  // Check that it loads (libopenblas.so.0 present at run time) and computes.
  const probe = run(process.execPath, ['-e', `
    const m = require(${JSON.stringify(addonPath)});
    const c = new Float32Array(4);
    m.sgemm(false, false, 2, 2, 2, new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), c, false);
    if (c.join() !== '19,22,43,50') throw new Error('sgemm probe gave ' + c.join());
  `], { timeout: 60_000 });
  if (!probe.ok) {
    log.push('$ load probe', probe.out);
    writeLog(log);
    fs.rmSync(addonPath, { force: true });
    notBuilt(`built addon does not load: ${firstError(probe.out)}; see ${rel(logPath)}`);
  }
  fs.writeFileSync(stampPath, stamp);
  done(`alp: native kernels built (${rel(addonPath)}, OpenBLAS from ${libDir})`);
}

// ---------------------------------------------------------------- helpers --

function readText(p) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function sourceHash() {
  const h = createHash('sha256');
  h.update(`${process.platform}-${process.arch}\n`);
  const files = ['binding.gyp', 'build.mjs'];
  for (const f of fs.readdirSync(path.join(here, 'src')).sort()) files.push(path.join('src', f));
  for (const f of files) {
    h.update(`${f}\n`);
    h.update(fs.readFileSync(path.join(here, f)));
  }
  return h.digest('hex');
}

function run(cmd, args, { env = process.env, timeout = 120_000 } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: here, env, timeout, encoding: 'utf8', maxBuffer: 32 << 20, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = `${r.stdout || ''}${r.stderr || ''}${r.error ? `\n${r.error.message}` : ''}`;
  return { ok: !r.error && r.status === 0, out };
}

function which(cmd) {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

function findCompiler() {
  const cands = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean);
  for (const c of cands) {
    const p = which(c.split(/\s+/)[0]);
    if (p) return p;
  }
  return null;
}

function multiarch() {
  const m = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu' };
  return m[process.arch] || null;
}

function findCblasInclude() {
  const ma = multiarch();
  const dirs = [
    process.env.ALP_OPENBLAS_INCLUDE,
    ma && `/usr/include/${ma}/openblas-pthread`,
    ma && `/usr/include/${ma}/openblas-openmp`,
    ma && `/usr/include/${ma}/openblas-serial`,
    '/usr/include/openblas',
    '/usr/local/include/openblas',
    '/opt/OpenBLAS/include',
    '/usr/local/include',
    ma && `/usr/include/${ma}`,
    '/usr/include',
  ].filter(Boolean);
  return dirs.find((d) => fs.existsSync(path.join(d, 'cblas.h'))) || null;
}

function findOpenblasLib() {
  const ma = multiarch();
  const dirs = [
    process.env.ALP_OPENBLAS_LIB,
    ma && `/usr/lib/${ma}`,
    ma && `/usr/lib/${ma}/openblas-pthread`,
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/opt/OpenBLAS/lib',
  ].filter(Boolean);
  return dirs.find((d) => fs.existsSync(path.join(d, 'libopenblas.so'))) || null;
}

function findNodeGyp() {
  const prefix = path.dirname(path.dirname(process.execPath));
  const cands = [
    process.env.npm_config_node_gyp,
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(here, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter(Boolean);
  return cands.find((p) => fs.existsSync(p)) || null;
}

// Headers installed next to this node binary (Debian: /usr/include/node),
// usable offline; node-gyp would otherwise try to download them.
function findNodeHeaders() {
  const prefixes = [process.env.npm_config_nodedir, path.dirname(path.dirname(process.execPath))];
  for (const prefix of prefixes.filter(Boolean)) {
    const include = path.join(prefix, 'include', 'node');
    if (fs.existsSync(path.join(include, 'node_api.h'))) return { prefix, include };
  }
  return null;
}

function firstError(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const hit =
    lines.find((l) => /\berror\b:|fatal error|undefined reference|cannot find -l/i.test(l)) ||
    lines.find((l) => /gyp ERR! stack Error/.test(l)) ||
    lines.find((l) => /ERR!|Error/.test(l)) ||
    lines[lines.length - 1] ||
    'unknown error';
  return hit.length > 160 ? `${hit.slice(0, 157)}...` : hit;
}

function writeLog(parts) {
  try {
    fs.mkdirSync(buildDir, { recursive: true });
    fs.writeFileSync(logPath, parts.join('\n') + '\n');
  } catch {}
}
