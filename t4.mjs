import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {installWasmKernels} from './dist/backend/wasm-kernels.js';
installWasmKernels();
await tf.setBackend('wasm'); await tf.ready();
function madry(){ const m=tf.sequential(); m.add(tf.layers.conv2d({inputShape:[28,28,1],filters:32,kernelSize:5,padding:'same',activation:'relu'})); m.add(tf.layers.maxPooling2d({poolSize:2})); m.add(tf.layers.conv2d({filters:64,kernelSize:5,padding:'same',activation:'relu'})); m.add(tf.layers.maxPooling2d({poolSize:2})); m.add(tf.layers.flatten()); m.add(tf.layers.dense({units:1024,activation:'relu'})); m.add(tf.layers.dense({units:10})); return m;}
function small(){ const m=tf.sequential(); m.add(tf.layers.conv2d({inputShape:[28,28,1],filters:16,kernelSize:4,strides:2,padding:'same',activation:'relu'})); m.add(tf.layers.conv2d({filters:32,kernelSize:4,strides:2,padding:'same',activation:'relu'})); m.add(tf.layers.flatten()); m.add(tf.layers.dense({units:100,activation:'relu'})); m.add(tf.layers.dense({units:10})); return m;}
function small2(){ const m=tf.sequential(); m.add(tf.layers.conv2d({inputShape:[28,28,1],filters:32,kernelSize:3,strides:1,padding:'same',activation:'relu'})); m.add(tf.layers.maxPooling2d({poolSize:2}));m.add(tf.layers.conv2d({filters:64,kernelSize:3,strides:1,padding:'same',activation:'relu'})); m.add(tf.layers.maxPooling2d({poolSize:2})); m.add(tf.layers.flatten()); m.add(tf.layers.dense({units:128,activation:'relu'})); m.add(tf.layers.dense({units:10})); return m;}
for (const [name, mk] of [['madry',madry],['wong',small],['small2',small2]]) {
  const m = mk(); const B=64;
  const x = tf.randomUniform([B,28,28,1]); const y = tf.oneHot(tf.randomUniform([B],0,10,'int32'),10);
  const lossF = (xx)=>tf.losses.softmaxCrossEntropy(y, m.apply(xx));
  const g = tf.grad(lossF);
  const opt = tf.train.adam(1e-3);
  function bench(label, f, n=5){ f(); f(); const t=performance.now(); for(let i=0;i<n;i++) f(); const dt=(performance.now()-t)/n; console.log(name, label, (B/dt*1000).toFixed(0), 'ex/s', dt.toFixed(1),'ms'); }
  bench('forward', ()=>tf.tidy(()=>{m.predict(x).dataSync();}));
  bench('inputgrad', ()=>tf.tidy(()=>{g(x).dataSync();}));
  bench('trainstep', ()=>tf.tidy(()=>{opt.minimize(()=>lossF(x), false);}));
  console.log(tf.memory().numTensors);
}
