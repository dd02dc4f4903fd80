/**
 * The body of every pool worker: set up its own TF.js backend (each thread has its own module instances,
 * wasm heap and native addon instance), import the pool's handler module, then answer requests one at a
 * time, in order. Errors inside a task go back to the caller; only a dead thread is a crash.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend, type BackendChoice } from '../backend/select.js';
import { nativeApi } from '../backend/native-kernels.js';
import { isTransferred, type Handlers, type Ready, type Request, type Response, type SerializedError, type WorkerBoot } from './protocol.js';

function serialize(e: unknown): SerializedError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}), ...(typeof code === 'number' ? { code } : {}) };
  }
  return { name: 'Error', message: String(e) };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('src/parallel/worker.ts runs only as a worker thread');
  const boot = workerData as WorkerBoot;
  let handlers: Handlers;
  try {
    const backend = await setupBackend(boot.backend as BackendChoice);
    // Each worker runs its native kernels on its own share of the cores.
    nativeApi()?.setNumThreads(boot.threads);
    const mod = (await import(boot.handlers)) as { handlers?: Handlers };
    if (typeof mod.handlers !== 'object' || mod.handlers === null) throw new Error(`${boot.handlers}: exports no 'handlers' object`);
    handlers = mod.handlers;
    port.postMessage({ ready: true, backend } satisfies Ready);
  } catch (e) {
    port.postMessage({ ready: false, error: serialize(e) } satisfies Ready);
    return;
  }
  // One task at a time, in arrival order: a replica's state changes only in the order the pool asked.
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: Request) => {
    queue = queue.then(async () => {
      let res: Response;
      let buffers: ArrayBuffer[] = [];
      try {
        const h = handlers[req.task];
        if (h === undefined) throw new Error(`unknown task '${req.task}' (known: ${Object.keys(handlers).join(', ')})`);
        let result = await h(req.payload);
        if (isTransferred(result)) {
          buffers = result.buffers;
          result = result.value;
        }
        res = { id: req.id, ok: true, result };
      } catch (e) {
        res = { id: req.id, ok: false, error: serialize(e) };
      }
      port.postMessage(res, buffers);
    });
  });
}

void main();
