import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {installWasmKernels} from './dist/backend/wasm-kernels.js';
installWasmKernels();
await tf.setBackend('wasm'); await tf.ready();
function madry(){ const m=tf.sequential(); m.add(tf.layers.conv2d({inputShape:[28,28,1],filters:32,kernelSize:5,padding:'same',activation:'relu'})); m.add(tf.layers.maxPooling2d({poolSize:2})); m.add(tf.layers.conv2d({filters:64,kernelSize:5,padding:'same',activation:'relu'})); m.add(tf.layers.maxPooling2d({poolSize:2})); m.add(tf.layers.flatten()); m.add(tf.layers.dense({units:1024,activation:'relu'})); m.add(tf.layers.dense({units:10})); return m;}
function small(){ const m=tf.sequential(); m.add(tf.layers.conv2d({inputShape:[28,28,1],filters:16,kernelSize:4,strides:2,padding:'same',activation:'relu'})); m.add(tf.layers.conv2d({filters:32,kernelSize:4,strides:2,padding:'same',activation:'relu'})); m.add(tf.layers.flatten()); m.add(tf.layers.dense({units:100,activation:'relu'})); m.add(tf.layers.dense({units:10})); return m;}
for (const [name, mk] of [['madry',madry],['wong',small]]) {
  const m = mk(); const B=64;
  const x = tf.randomUniform([B,28,28,1]); const y = tf.oneHot(tf.randomUniform([B],0,10,'int32'),10);
  const lossF = (xx)=>tf.losses.softmaxCrossEntropy(y, m.apply(xx));
  const g = tf.grad(lossF);
  tf.tidy(()=>g(x).dataSync());
  const opt = tf.train.adam(1e-3);
  for (const [label, f] of [['inputgrad', ()=>tf.tidy(()=>{g(x).dataSync();})], ['train', ()=>tf.tidy(()=>{opt.minimize(()=>lossF(x), false);})]]) {
  f();
  const p = await tf.profile(f);
  const agg = {};
  for (const k of p.kernels) { agg[k.name] = (agg[k.name]||0) + (typeof k.kernelTimeMs==='number'?k.kernelTimeMs:0); }
  console.log(name, label, Object.entries(agg).sort((a,b)=>b[1]-a[1]).slice(0,10).map(([k,v])=>k+':'+v.toFixed(1)).join(' '));
  }
}
