import { createRequire } from 'node:module';
const m = createRequire(import.meta.url)('../native/index.cjs');
m.setNumThreads(1);
const N=64,H=28,W=28,C=32;
const x = new Float32Array(N*H*W*C).map(()=>Math.random()), dy = new Float32Array(N*14*14*C).map(()=>Math.random()), dx = new Float32Array(N*H*W*C);
for (let r = 0; r < 3; r++) { const t0 = performance.now(); for (let i = 0; i < 10; i++) m.maxPoolGrad(dy, x, N, H, W, C, 14, 14, 2, 2, 2, 2, 0, 0, dx); console.log('maxPoolGrad', ((performance.now()-t0)/10).toFixed(2), 'ms'); }
const y = new Float32Array(N*H*W*C);
for (let r = 0; r < 3; r++) { const t0 = performance.now(); for (let i = 0; i < 10; i++) m.reluGrad(x, dx, y, x.length); console.log('reluGrad', ((performance.now()-t0)/10).toFixed(2), 'ms'); }
{ const c0 = process.cpuUsage(); const t0 = performance.now(); for (let i = 0; i < 10; i++) m.reluGrad(x, dx, y, x.length); const c = process.cpuUsage(c0); console.log('reluGrad wall', ((performance.now()-t0)/10).toFixed(2), 'cpu', ((c.user+c.system)/1e4).toFixed(2), 'ms', 'sys', (c.system/1e4).toFixed(2)); }
{ const c0 = process.cpuUsage(); const t0 = performance.now(); for (let i = 0; i < 10; i++) m.maxPoolGrad(dy, x, N, H, W, C, 14, 14, 2, 2, 2, 2, 0, 0, dx); const c = process.cpuUsage(c0); console.log('mpg wall', ((performance.now()-t0)/10).toFixed(2), 'cpu', ((c.user+c.system)/1e4).toFixed(2), 'ms', 'sys', (c.system/1e4).toFixed(2)); }
