import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {installWasmKernels} from './dist/backend/wasm-kernels.js';
installWasmKernels();
function f(be, xs, ws, dys, stride, pad) {
  tf.setBackend(be);
  const x = tf.tensor(xs.data, xs.shape), w = tf.tensor(ws.data, ws.shape), dy=tf.tensor(dys.data, dys.shape);
  const dx = tf.conv2dTranspose ? tf.backend() && tf.engine().runKernel('Conv2DBackpropInput', {dy, filter:w}, {strides:stride, pad, dataFormat:'NHWC', inputShape:xs.shape}) : null;
  const dw = tf.engine().runKernel('Conv2DBackpropFilter', {x, dy}, {strides:stride, pad, dataFormat:'NHWC', filterShape:ws.shape});
  const mm = tf.matMul(x.reshape([xs.shape[0], -1]), x.reshape([xs.shape[0], -1]), true, false);
  const mm2 = tf.matMul(x.reshape([xs.shape[0], -1]), x.reshape([xs.shape[0], -1]), false, true);
  return [dx.dataSync(), dw.dataSync(), mm.dataSync(), mm2.dataSync(), dx.shape, dw.shape];
}
await tf.setBackend('wasm'); await tf.ready(); await tf.setBackend('cpu'); await tf.ready();
for (const [xsh, wsh, stride, pad] of [[[2,7,7,3],[3,3,3,4],1,'same'],[[2,8,8,3],[4,4,3,5],2,'same'],[[2,9,9,2],[3,3,2,3],2,'valid'],[[2,28,28,1],[5,5,1,6],1,'same'],[[1,10,10,2],[5,5,2,2],3,'same'],[[1,10,10,2],[3,3,2,2],1,[[0,0],[1,2],[2,0],[0,0]]]]) {
  tf.setBackend('cpu');
  const x = tf.randomNormal(xsh), w = tf.randomNormal(wsh);
  const y = tf.conv2d(x, w, stride, pad);
  const dy = tf.randomNormal(y.shape);
  const xs={data:x.dataSync(),shape:xsh}, ws={data:w.dataSync(),shape:wsh}, dys={data:dy.dataSync(),shape:y.shape};
  const a = f('cpu', xs, ws, dys, stride, pad), b = f('wasm', xs, ws, dys, stride, pad);
  const md = (p,q)=>{let m=0; for(let i=0;i<p.length;i++) m=Math.max(m,Math.abs(p[i]-q[i])); return m + (p.length===q.length?'':' LEN MISMATCH');};
  console.log(JSON.stringify(xsh), stride, JSON.stringify(pad), 'dx', md(a[0],b[0]), 'dw', md(a[1],b[1]), 'mmTA', md(a[2],b[2]), 'mmTB', md(a[3],b[3]), a[4]+'', b[4]+'', a[5]+'', b[5]+'');
}
