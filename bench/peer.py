#!/usr/bin/python3
"""PyTorch peer for bench/bench.mjs.

Loads the model and batch that bench.mjs exported (manifest.json + raw little-endian float32/int32
files, TF.js layouts), builds the equivalent torch model and either

  check DIR            writes peer_logits.f32 and peer_grad.f32 (logits and the input gradient of the
                       summed cross-entropy, both in the TF.js NHWC layout) for bench.mjs to compare;
  bench DIR --batch B  times forward, one PGD step, one Adam training step and one ALP step (PGD-10)
                       on the first B images and prints the figures as one JSON line on stdout.

Layout conversions: conv kernels [kh,kw,ci,co] -> [co,ci,kh,kw]; dense kernels [in,out] -> [out,in];
inputs NHWC -> NCHW; activations are permuted back to NHWC before a flatten, because TF.js flattens
NHWC. TF 'same' padding is computed exactly (it may be asymmetric, extra pixel bottom/right).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load(d, spec, dtype):
    a = np.fromfile(os.path.join(d, spec["file"]), dtype=dtype)
    return torch.from_numpy(a.reshape(spec["shape"]).copy())


def activation(name):
    if name in (None, "linear"):
        return None
    if name == "relu":
        return F.relu
    if name == "relu6":
        return F.relu6
    raise SystemExit(f"peer.py: unsupported activation {name!r}")


def same_pad(size, k, s):
    """TF 'same' padding along one axis: (before, after, out)."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


class Conv(nn.Module):
    """Conv2D, or DepthwiseConv2D (depthwise=True: a grouped conv, output channel c*M+m from input channel c)."""

    def __init__(self, spec, d, h, w, depthwise=False):
        super().__init__()
        kh, kw = spec["kernelSize"]
        sh, sw = spec["strides"]
        kernel = load(d, spec["weights"][0], "<f4")  # [kh, kw, ci, co] (depthwise: [kh, kw, c, m])
        ci, co = kernel.shape[2], kernel.shape[3]
        groups = 1
        if depthwise:
            groups, co = ci, ci * kernel.shape[3]
            weight = kernel.permute(2, 3, 0, 1).reshape(co, 1, kh, kw)
        else:
            weight = kernel.permute(3, 2, 0, 1)
        self.conv = nn.Conv2d(ci, co, (kh, kw), stride=(sh, sw), padding=0, bias=spec["useBias"], groups=groups)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if spec["useBias"]:
                self.conv.bias.copy_(load(d, spec["weights"][1], "<f4"))
        if spec["padding"] == "same":
            t, b, oh = same_pad(h, kh, sh)
            l, r, ow = same_pad(w, kw, sw)
            if t == b and l == r:
                self.conv.padding = (t, l)
                self.pad = None
            else:
                self.pad = (l, r, t, b)
        elif spec["padding"] == "valid":
            self.pad = None
            oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        else:
            raise SystemExit(f"peer.py: unsupported padding {spec['padding']!r}")
        self.act = activation(spec["activation"])
        self.out = (oh, ow, co)

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv(x)
        return self.act(x) if self.act else x


class Pool(nn.Module):
    def __init__(self, spec, h, w, c):
        super().__init__()
        if spec["padding"] != "valid":
            raise SystemExit("peer.py: only 'valid' max pooling is supported")
        (ph, pw), (sh, sw) = spec["poolSize"], spec["strides"]
        self.pool = nn.MaxPool2d((ph, pw), (sh, sw))
        self.out = ((h - ph) // sh + 1, (w - pw) // sw + 1, c)

    def forward(self, x):
        return self.pool(x)


class FlattenNHWC(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class Dense(nn.Module):
    def __init__(self, spec, d):
        super().__init__()
        kernel = load(d, spec["weights"][0], "<f4")  # [in, out]
        self.fc = nn.Linear(kernel.shape[0], kernel.shape[1], bias=spec["useBias"])
        with torch.no_grad():
            self.fc.weight.copy_(kernel.t())
            if spec["useBias"]:
                self.fc.bias.copy_(load(d, spec["weights"][1], "<f4"))
        self.act = activation(spec["activation"])

    def forward(self, x):
        x = self.fc(x)
        return self.act(x) if self.act else x


class BatchNorm(nn.Module):
    """BatchNormalization over channels; TF.js' momentum m (moving = m*moving + (1-m)*batch) is torch's 1-m."""

    def __init__(self, spec, d, c):
        super().__init__()
        w = {k: load(d, v, "<f4") for k, v in spec["weights"].items()}
        self.bn = nn.BatchNorm2d(c, eps=spec["epsilon"], momentum=1 - spec["momentum"], affine=True)
        with torch.no_grad():
            self.bn.weight.copy_(w.get("gamma", torch.ones(c)))
            self.bn.bias.copy_(w.get("beta", torch.zeros(c)))
            self.bn.running_mean.copy_(w["moving_mean"])
            self.bn.running_var.copy_(w["moving_variance"])
        if "gamma" not in w:
            self.bn.weight.requires_grad_(False)
        if "beta" not in w:
            self.bn.bias.requires_grad_(False)

    def forward(self, x):
        return self.bn(x)


class Act(nn.Module):
    def __init__(self, name):
        super().__init__()
        self.act = activation(name)

    def forward(self, x):
        return self.act(x) if self.act else x


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Graph(nn.Module):
    """A functional model: each layer applied to the outputs of the layers named in its "inputs"."""

    def __init__(self, d, manifest):
        super().__init__()
        _, h, w, c = manifest["input"]["shape"]
        shapes = {}
        self.order = []
        self.mods = nn.ModuleDict()
        for spec in manifest["layers"]:
            t, name, ins = spec["type"], spec["name"], spec.get("inputs", [])
            if t == "input":
                shapes[name] = (h, w, c)
                self.order.append((name, t, ins))
                continue
            hh, ww, cc = shapes[ins[0]]
            if t == "conv2d" or t == "depthwise2d":
                m = Conv(spec, d, hh, ww, depthwise=(t == "depthwise2d"))
                out = m.out
            elif t == "batchnorm":
                m, out = BatchNorm(spec, d, cc), (hh, ww, cc)
            elif t == "activation":
                m, out = Act(spec["activation"]), (hh, ww, cc)
            elif t == "add":
                m, out = None, (hh, ww, cc)
            elif t == "gap":
                m, out = GlobalAvgPool(), (None, None, cc)
            elif t == "dense":
                m, out = Dense(spec, d), (None, None, spec["units"])
            else:
                raise SystemExit(f"peer.py: unsupported layer type {t!r} in a graph")
            if m is not None:
                self.mods[name] = m
            shapes[name] = out
            self.order.append((name, t, ins))
        self.output = manifest["layers"][-1]["name"]

    def forward(self, x):
        vals = {}
        for name, t, ins in self.order:
            if t == "input":
                vals[name] = x
            elif t == "add":
                v = vals[ins[0]]
                for i in ins[1:]:
                    v = v + vals[i]
                vals[name] = v
            else:
                vals[name] = self.mods[name](vals[ins[0]])
        return vals[self.output]


def build(d, manifest):
    if manifest.get("graph"):
        return Graph(d, manifest)
    _, h, w, c = manifest["input"]["shape"]
    mods = []
    flat = False
    for spec in manifest["layers"]:
        t = spec["type"]
        if t == "conv2d":
            m = Conv(spec, d, h, w)
            h, w, c = m.out
        elif t == "maxpool2d":
            m = Pool(spec, h, w, c)
            h, w, c = m.out
        elif t == "flatten":
            m = FlattenNHWC()
            flat = True
        elif t == "dense":
            if not flat:
                raise SystemExit("peer.py: dense layer before a flatten is not supported")
            m = Dense(spec, d)
        else:
            raise SystemExit(f"peer.py: unsupported layer type {t!r}")
        mods.append(m)
    return nn.Sequential(*mods)


def load_batch(d, manifest, n=None, key="input"):
    x = load(d, manifest[key], "<f4").permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    y = load(d, manifest["labels"], "<i4").long()
    if n is not None:
        if n > x.shape[0]:
            raise SystemExit(f"peer.py: batch {n} > exported {x.shape[0]}")
        x, y = x[:n].contiguous(), y[:n].contiguous()
    return x, y


def input_grad(model, x, y):
    xa = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(xa), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, [xa])
    return g


def pgd_step(model, x0, xa, y, eps, alpha):
    """One L-inf PGD step from xa around x0: CE gradient, sign step, projection to ball and box."""
    g = input_grad(model, xa, y)
    with torch.no_grad():
        nxt = xa + alpha * g.sign()
        nxt = torch.min(torch.max(nxt, x0 - eps), x0 + eps).clamp_(0.0, 1.0)
    return nxt


def timeit(fn, examples, warmup, min_reps, max_reps, min_time):
    for _ in range(warmup):  # a single warm-up iteration when one takes over 1 s
        t0 = time.perf_counter()
        fn()
        if time.perf_counter() - t0 > 1.0:
            break
    secs = []
    start = time.perf_counter()
    while len(secs) < max_reps and (len(secs) < min_reps or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        secs.append(time.perf_counter() - t0)
    eps = sorted(examples / s for s in secs)
    q = np.quantile(eps, [0.25, 0.5, 0.75])
    return {
        "median": float(np.median(eps)),
        "min": eps[0],
        "max": eps[-1],
        "q1": float(q[0]),
        "q3": float(q[2]),
        "reps": len(secs),
        "medianSeconds": float(np.median(secs)),
    }


def bench(model, x, y, s, t):
    B = x.shape[0]
    eps, out = s["eps"], {}
    timing = dict(warmup=t.warmup, min_reps=t.min_reps, max_reps=t.max_reps, min_time=t.min_time)

    model.eval()

    def forward():
        with torch.no_grad():
            model(x)

    out["forward"] = timeit(forward, B, **timing)
    out["pgd-step"] = timeit(lambda: pgd_step(model, x, x.clone(), y, eps, s["pgdStepSize"]), B, **timing)

    params = list(model.parameters())

    opt = torch.optim.Adam(params, lr=s["lr"])

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    out["train-step"] = timeit(train_step, B, **timing)

    opt = torch.optim.Adam(params, lr=s["lr"])
    yy = torch.cat([y, y])

    def alp_step():
        # Adversarial examples in inference mode: random start in the ball, then PGD-10.
        model.eval()
        with torch.no_grad():
            xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp_(0.0, 1.0)
        for _ in range(s["alpSteps"]):
            xa = pgd_step(model, x, xa, y, eps, s["alpStepSize"])
        # Training step on [x; x_adv]: mean CE over 2B + lambda * mean squared logit difference.
        model.train()
        opt.zero_grad(set_to_none=True)
        z = model(torch.cat([x, xa]))
        loss = F.cross_entropy(z, yy) + s["lambda"] * F.mse_loss(z[:B], z[B:])
        loss.backward()
        opt.step()
        loss.item()

    out["alp-step"] = timeit(alp_step, B, **timing)
    return out


def train(model, d, manifest, batch, epochs):
    """The ALP loop of `alp train --method alp` (bench/train-e2e.mjs): per batch, PGD-k from a random
    start in inference mode, then one Adam step on [x; x'] in training mode; examples/s over the run."""
    t, s = manifest["train"], manifest["settings"]
    x_all = load(d, t["x"], "<f4").permute(0, 3, 1, 2).contiguous()
    y_all = load(d, t["y"], "<i4").long()
    n = x_all.shape[0]
    eps, steps, alpha = s["eps"], s["alpSteps"], s["alpStepSize"]
    opt = torch.optim.Adam(list(model.parameters()), lr=s["lr"])
    g = torch.Generator().manual_seed(1)
    seen, start = 0, time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for b in range(n // batch):
            idx = order[b * batch:(b + 1) * batch]
            x, y = x_all[idx], y_all[idx]
            model.eval()
            with torch.no_grad():
                xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp_(0.0, 1.0)
            for _ in range(steps):
                xa = pgd_step(model, x, xa, y, eps, alpha)
            model.train()
            opt.zero_grad(set_to_none=True)
            z = model(torch.cat([x, xa]))
            loss = F.cross_entropy(z, torch.cat([y, y])) + s["lambda"] * F.mse_loss(z[:batch], z[batch:])
            loss.backward()
            opt.step()
            loss.item()
            seen += batch
    secs = time.perf_counter() - start
    return {"examples": seen, "seconds": secs, "examplesPerSec": seen / secs}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["check", "bench", "train"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("dir")
    p.add_argument("--batch", type=int)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--min-reps", type=int, default=5)
    p.add_argument("--max-reps", type=int, default=200)
    p.add_argument("--min-time", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    with open(os.path.join(a.dir, "manifest.json")) as f:
        manifest = json.load(f)
    model = build(a.dir, manifest)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": sys.version.split()[0]}

    if a.mode == "check":
        model.eval()
        # A float64 twin: the reference both float32 gradients are judged against where they differ.
        model64 = build(a.dir, manifest).double().eval()
        for name, key in (("exact", "input"), ("untied", "untiedInput")):
            x, y = load_batch(a.dir, manifest, key=key)
            with torch.no_grad():
                z = model(x)
            g = input_grad(model, x, y).permute(0, 2, 3, 1).contiguous()  # back to NHWC
            g64 = input_grad(model64, x.double(), y).permute(0, 2, 3, 1).contiguous()
            z.numpy().astype("<f4").tofile(os.path.join(a.dir, f"peer_logits_{name}.f32"))
            g.numpy().astype("<f4").tofile(os.path.join(a.dir, f"peer_grad_{name}.f32"))
            g64.numpy().astype("<f4").tofile(os.path.join(a.dir, f"peer_grad64_{name}.f32"))
        print(json.dumps(info))
        return

    if a.batch is None:
        raise SystemExit(f"peer.py {a.mode}: --batch is required")
    if a.mode == "train":
        print(json.dumps({**info, "train": train(model, a.dir, manifest, a.batch, a.epochs)}))
        return
    x, y = load_batch(a.dir, manifest, a.batch)
    res = bench(model, x, y, manifest["settings"], a)
    print(json.dumps({**info, "results": {str(a.batch): res}}))


if __name__ == "__main__":
    main()
