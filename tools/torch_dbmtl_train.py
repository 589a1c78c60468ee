#!/usr/bin/env python3
"""torch_dbmtl_train.py: the DBMTL models of examples/hillstrom.config and
examples/taobao_dbmtl.config, trained and evaluated in PyTorch as the quality reference
for mtrec (bench/quality.sh). Run with Debian's PyTorch:

    /usr/bin/python3 tools/torch_dbmtl_train.py --dataset hillstrom \
        --train build/data/hillstrom_train.csv --eval build/data/hillstrom_eval.csv \
        [--seed 1] [--threads 2] [--num_steps N] [--json_out F] [--emb_adam dense|lazy]

The model is described by a small Python table per data set (DATASETS below), written from
the pipeline configs by hand, not parsed from them. What is the same as mtrec/EasyRec
(../shared/docs/EASYREC_SEMANTICS.md section 1):
  features   IdFeature hash (empty string -> zero vector), IdFeature num_buckets (out of
             range -> 0, -1 -> zero vector), TagFeature ('|' split, empty tokens skipped,
             sum), RawFeature boundaries (bucket = #boundaries <= x, in float32) and raw
             ((x - min) / (max - min) concatenated); embedding tables of the same sizes,
             initialised truncated-normal(0, 1/sqrt(dim)) cut at 2 sd (TF's
             embedding_column default, which mtrec uses; EASYREC_SEMANTICS.md's
             0.01/sqrt(dim) is stale).
  hashing    FarmHash Fingerprint64 mod N (strings up to 64 bytes, written out below), so
             bucket ids equal mtrec's and TF's; --hash blake2 uses blake2b-64 mod N
             instead: a stable hash, so that changes only WHICH ids collide. Collisions
             among a small hashed feature's distinct values are reported.
  layers     Linear (glorot-uniform kernel, zero bias) -> batch norm (TF momentum 0.99 =
             torch 0.01, eps 1e-3, biased batch variance also for the moving variance, as
             TF's non-fused batch_normalization) -> ReLU, on every layer incl. the last.
  DAG        relation_dnn(concat(tower dnn out, parents' relation outputs)) per tower in
             config order; output Linear -> 1 logit.
  loss       sigmoid CE / squared error, batch means (SUM_BY_NONZERO_WEIGHTS with weight 1),
             times the tower weight; + l2 * 1/2 ||W||^2 over every kernel (not biases, BN,
             embeddings) + emb_reg * 1/2 * sum of squares of the batch's looked-up,
             combined embedding outputs (summed over the batch).
  optimizer  TF 1.x Adam written out: lr_t = lr sqrt(1-b2^t)/(1-b1^t),
             p -= lr_t m / (sqrt(v) + eps) (torch.optim.Adam puts eps elsewhere); learning
             rate tf.train.exponential_decay (staircase) floored at min_learning_rate,
             evaluated at the 0-based step. Embedding tables: --emb_adam dense (default) is
             tf.train.AdamOptimizer on IndexedSlices: every row's moments decay and every
             row moves each step; lazy updates only the rows looked up in the batch
             (LazyAdam, which is what mtrec does for adam_optimizer).
  data       tf.data order: per epoch the rows pass a 32-row shuffle buffer (fill, emit a
             random one, refill, drain at the epoch end), epochs are chained and cut into
             batches (a batch may span two epochs; only the last is short); num_steps caps.
             The shuffle draws differ from mtrec's (different RNGs), the distribution is
             the same.
  eval       one pass over the eval file, batch norm with moving statistics; exact ROC AUC
             (midrank ties) and log loss (probabilities clipped to [1e-7, 1-1e-7]) per
             classification task, mean squared error per regression task.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import sys
import time

# libgomp reads this when torch loads: a spinning OpenMP pool collapses (10-20x) on a shared
# machine (../shared/bench/gemm/RESULTS.md, pitfall 3)
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn

# ---- data set descriptions (written from examples/*.config) ------------------------------
# feature kinds: hash (IdFeature hash_bucket_size), ident (IdFeature num_buckets), tag
# (TagFeature hash_bucket_size, separator '|'), bucket (RawFeature boundaries), raw
# (RawFeature without embedding: normalised value concatenated). Listed in group order.
HILLSTROM = {
    "header": True,
    "columns": ["recency", "history_segment", "history", "mens", "womens", "zip_code",
                "newbie", "channel", "segment", "visit", "conversion", "spend"],
    "features": [
        {"name": "recency", "kind": "raw", "min": 0.0, "max": 12.0},
        {"name": "history_segment", "kind": "hash", "buckets": 100, "dim": 8},
        {"name": "history", "kind": "bucket", "dim": 8,
         "boundaries": [40.0, 60.0, 80.0, 115.0, 160.0, 210.0, 280.0, 380.0, 560.0, 1000.0]},
        {"name": "mens", "kind": "ident", "buckets": 2, "dim": 8},
        {"name": "womens", "kind": "ident", "buckets": 2, "dim": 8},
        {"name": "newbie", "kind": "ident", "buckets": 2, "dim": 8},
        {"name": "zip_code", "kind": "hash", "buckets": 50, "dim": 8},
        {"name": "channel", "kind": "hash", "buckets": 50, "dim": 8},
        {"name": "segment", "kind": "hash", "buckets": 50, "dim": 8},
    ],
    "bottom": [128, 64],
    "towers": [  # name, label, loss, dnn, relations, relation_dnn, weight
        {"name": "visit", "label": "visit", "loss": "cls", "dnn": [64, 32], "rel": [], "rel_dnn": [16], "w": 1.0},
        {"name": "conversion", "label": "conversion", "loss": "cls", "dnn": [64, 32], "rel": ["visit"],
         "rel_dnn": [16], "w": 1.0},
        {"name": "spend", "label": "spend", "loss": "l2", "dnn": [64, 32], "rel": ["visit", "conversion"],
         "rel_dnn": [16], "w": 0.001},
    ],
    "l2": 1e-6, "emb_reg": 5e-6,
    "batch": 512, "num_epochs": 5, "num_steps": 0, "shuffle_buffer": 32,
    "lr": {"initial": 0.001, "decay_steps": 200, "factor": 0.7, "staircase": True, "min": 0.0001},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}

_TB_HASH = [("pid", 10), ("adgroup_id", 100000), ("cate_id", 10000), ("campaign_id", 100000),
            ("customer", 100000), ("brand", 100000), ("user_id", 100000), ("cms_segid", 100),
            ("cms_group_id", 100), ("age_level", 10), ("pvalue_level", 10), ("shopping_level", 10),
            ("occupation", 10), ("new_user_class_level", 10)]
_TB = {n: {"name": n, "kind": "hash", "buckets": b, "dim": 16} for n, b in _TB_HASH}
_TB["tag_category_list"] = {"name": "tag_category_list", "kind": "tag", "buckets": 100000, "dim": 16}
_TB["tag_brand_list"] = {"name": "tag_brand_list", "kind": "tag", "buckets": 100000, "dim": 16}
_TB["price"] = {"name": "price", "kind": "ident", "buckets": 50, "dim": 16}
TAOBAO = {
    "header": False,
    "columns": ["clk", "buy", "pid", "adgroup_id", "cate_id", "campaign_id", "customer", "brand",
                "user_id", "cms_segid", "cms_group_id", "final_gender_code", "age_level",
                "pvalue_level", "shopping_level", "occupation", "new_user_class_level",
                "tag_category_list", "tag_brand_list", "price"],
    "features": [_TB[n] for n in [  # feature group "all" order of dbmtl_on_taobao.config
        "user_id", "cms_segid", "cms_group_id", "age_level", "pvalue_level", "shopping_level",
        "occupation", "new_user_class_level", "adgroup_id", "cate_id", "campaign_id", "customer",
        "brand", "price", "pid", "tag_category_list", "tag_brand_list"]],
    "bottom": [1024, 512, 256],
    "towers": [
        {"name": "ctr", "label": "clk", "loss": "cls", "dnn": [256, 128, 64, 32], "rel": [], "rel_dnn": [32], "w": 1.0},
        {"name": "cvr", "label": "buy", "loss": "cls", "dnn": [256, 128, 64, 32], "rel": ["ctr"],
         "rel_dnn": [32], "w": 1.0},
    ],
    "l2": 1e-6, "emb_reg": 5e-6,
    "batch": 4096, "num_epochs": 0, "num_steps": 5000, "shuffle_buffer": 32,
    "lr": {"initial": 0.001, "decay_steps": 1000, "factor": 0.5, "staircase": True, "min": 1e-7},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}
DATASETS = {"hillstrom": HILLSTROM, "taobao": TAOBAO}


# ---- features ----------------------------------------------------------------------------
_M = (1 << 64) - 1
_K0, _K1, _K2 = 0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f


def _ld64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def _ld32(b, i):
    return int.from_bytes(b[i:i + 4], "little")


def _rot(v, s):
    return ((v >> s) | (v << (64 - s))) & _M


def _len16(u, v, mul):
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def fingerprint64(b):
    """FarmHash Fingerprint64 (farmhashna::Hash64) of bytes b, for len(b) <= 64 (a
    transcription of mtrec's src/util/hash.c, checked against its test vectors by
    --self_test); longer strings raise ValueError."""
    n = len(b)
    mul = (_K2 + n * 2) & _M
    if n > 64:
        raise ValueError("fingerprint64: strings over 64 bytes are not implemented here")
    if n > 32:
        a = (_ld64(b, 0) * _K2) & _M
        bb = _ld64(b, 8)
        c = (_ld64(b, n - 8) * mul) & _M
        d = (_ld64(b, n - 16) * _K2) & _M
        y = (_rot((a + bb) & _M, 43) + _rot(c, 30) + d) & _M
        z = _len16(y, (a + _rot((bb + _K2) & _M, 18) + c) & _M, mul)
        e = (_ld64(b, 16) * mul) & _M
        f = _ld64(b, 24)
        g = ((y + _ld64(b, n - 32)) * mul) & _M
        h = ((z + _ld64(b, n - 24)) * mul) & _M
        return _len16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M,
                      (e + _rot((f + a) & _M, 18) + g) & _M, mul)
    if n > 16:
        a = (_ld64(b, 0) * _K1) & _M
        bb = _ld64(b, 8)
        c = (_ld64(b, n - 8) * mul) & _M
        d = (_ld64(b, n - 16) * _K2) & _M
        return _len16((_rot((a + bb) & _M, 43) + _rot(c, 30) + d) & _M,
                      (a + _rot((bb + _K2) & _M, 18) + c) & _M, mul)
    if n >= 8:
        a = (_ld64(b, 0) + _K2) & _M
        bb = _ld64(b, n - 8)
        c = (_rot(bb, 37) * mul + a) & _M
        d = ((_rot(a, 25) + bb) * mul) & _M
        return _len16(c, d, mul)
    if n >= 4:
        a = _ld32(b, 0)
        return _len16((n + (a << 3)) & _M, _ld32(b, n - 4), mul)
    if n > 0:
        y = b[0] + (b[n >> 1] << 8)
        z = n + (b[n - 1] << 2)
        v = ((y * _K2) ^ (z * _K0)) & _M
        return ((v ^ (v >> 47)) * _K2) & _M
    return _K2


HASH = "farmhash"
_hcache = {}


def hash_bucket(s, n):
    """Bucket of string s among n: Fingerprint64 mod n, as TF string_to_hash_bucket_fast
    and mtrec (--hash farmhash, the default), or blake2b-64 mod n (--hash blake2: any
    stable hash only changes which ids collide)."""
    key = (s, n)
    v = _hcache.get(key)
    if v is None:
        b = s.encode("utf-8")
        if HASH == "farmhash" and len(b) <= 64:
            v = fingerprint64(b) % n
        else:
            v = int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little") % n
        _hcache[key] = v
    return v


_VECTORS = [("", 0x9ae16a3b2f90404f), ("a", 0xb3454265b6df75e3), ("-1", 0x65c727c9a1b5784e),
            ("Hello", 0xd5c87c1e326b2087), ("TensorFlow", 0x3b32a5d4a84a82ce),
            ("430548_1007", 0x5d28fdff13b1f884), ("NULL", 0x0fc7cb52e57b7d65),
            ("abcdefghijklmnop", 0x54630bad7705cebd), ("abcdefghijklmnopq", 0x9e2106c72d7793a8),
            ("The quick brown fox jumps over the lazy dog", 0xabbe83f33b1b5134)]


def self_test():
    bad = [(s, hex(fingerprint64(s.encode())), hex(v)) for s, v in _VECTORS if fingerprint64(s.encode()) != v]
    bad += [("auc", auc_exact([0, 1, 0, 1], [0.1, 0.4, 0.45, 0.8]), 0.75)] \
        if abs(auc_exact([0, 1, 0, 1], [0.1, 0.4, 0.45, 0.8]) - 0.75) > 1e-12 else []
    bad += [("auc ties", auc_exact([0, 1, 1, 0], [0.5, 0.5, 0.9, 0.1]), 0.875)] \
        if abs(auc_exact([0, 1, 1, 0], [0.5, 0.5, 0.9, 0.1]) - 0.875) > 1e-12 else []
    for b in bad:
        print("self test FAILED: %r" % (b,), file=sys.stderr)
    print("self test: %d checks, %d failed" % (len(_VECTORS) + 2, len(bad)), file=sys.stderr)
    return 1 if bad else 0


def f32(x):
    return float(np.float32(x))


def encode(ds, rows):
    """rows (lists of strings, CSV column order) -> per-feature id tensors [N, L] (-1 pad),
    the raw dense matrix [N, n_raw] and the label matrix [N, n_towers]."""
    col = {c: i for i, c in enumerate(ds["columns"])}
    n = len(rows)
    ids, dense = [], []
    for f in ds["features"]:
        j, k = col[f["name"]], f["kind"]
        if k == "raw":
            lo, hi = f32(f["min"]), f32(f["max"])
            v = [f32(r[j] or 0.0) for r in rows]
            if hi > lo:
                v = [f32((x - lo) / f32(hi - lo)) for x in v]
            dense.append(v)
            ids.append(None)
            continue
        lists = []
        for r in rows:
            s = r[j]
            if k == "hash":
                lists.append([hash_bucket(s, f["buckets"])] if s != "" else [])
            elif k == "tag":
                lists.append([hash_bucket(t, f["buckets"]) for t in s.split("|") if t != ""])
            elif k == "ident":
                v = int(s) if s != "" else 0  # a missing INT field reads as 0 -> id 0
                lists.append([] if v == -1 else [v if 0 <= v < f["buckets"] else 0])
            elif k == "bucket":
                x = np.float32(float(s) if s != "" else 0.0)
                lists.append([int(np.searchsorted(np.asarray(f["boundaries"], np.float32), x, side="right"))])
        width = max(1, max(len(x) for x in lists))
        a = np.full((n, width), -1, dtype=np.int64)
        for i, x in enumerate(lists):
            a[i, :len(x)] = x
        ids.append(torch.from_numpy(a))
    dense_t = torch.tensor(np.asarray(dense, dtype=np.float32).T.copy()) if dense else torch.zeros(n, 0)
    labels = torch.tensor([[float(r[col[t["label"]]] or 0.0) for t in ds["towers"]] for r in rows],
                          dtype=torch.float32)
    return ids, dense_t, labels


def report_collisions(ds, rows):
    col = {c: i for i, c in enumerate(ds["columns"])}
    for f in ds["features"]:
        if f["kind"] != "hash" or f["buckets"] > 1000:
            continue
        vals = {r[col[f["name"]]] for r in rows} - {""}
        b = {hash_bucket(v, f["buckets"]) for v in vals}
        if len(b) < len(vals):
            print("note: feature %s: %d distinct values share %d of %d buckets under %s"
                  % (f["name"], len(vals), len(b), f["buckets"], HASH), file=sys.stderr)


def read_csv(path, header):
    with open(path, newline="") as fh:
        r = csv.reader(fh)
        rows = list(r)
    return rows[1:] if header else rows


# ---- model -------------------------------------------------------------------------------
class BN(nn.Module):
    """TF batch_normalization: batch mean and biased variance in training, moving averages
    (momentum 0.99, the biased variance) for inference; eps 1e-3."""

    def __init__(self, n, momentum=0.99, eps=1e-3):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))
        self.beta = nn.Parameter(torch.zeros(n))
        self.register_buffer("mmean", torch.zeros(n))
        self.register_buffer("mvar", torch.ones(n))
        self.mom, self.eps = momentum, eps

    def forward(self, x):
        if self.training:
            mu = x.mean(0)
            var = ((x - mu) ** 2).mean(0)
            with torch.no_grad():
                self.mmean.mul_(self.mom).add_((1 - self.mom) * mu)
                self.mvar.mul_(self.mom).add_((1 - self.mom) * var)
        else:
            mu, var = self.mmean, self.mvar
        return (x - mu) * torch.rsqrt(var + self.eps) * self.gamma + self.beta


def dense(i, o):
    lin = nn.Linear(i, o)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


def mlp(d, units):
    layers = []
    for u in units:
        layers += [dense(d, u), BN(u), nn.ReLU()]
        d = u
    return nn.Sequential(*layers), d


class DBMTL(nn.Module):
    def __init__(self, ds, n_raw):
        super().__init__()
        self.ds = ds
        self.emb = nn.ModuleList()
        width = n_raw
        for f in ds["features"]:
            if f["kind"] == "raw":
                self.emb.append(None)
                continue
            rows = len(f["boundaries"]) + 1 if f["kind"] == "bucket" else f["buckets"]
            e = nn.Embedding(rows + 1, f["dim"], padding_idx=rows)  # last row: the empty bag
            sd = 1.0 / math.sqrt(f["dim"])  # TF embedding_column default, as mtrec
            with torch.no_grad():
                nn.init.trunc_normal_(e.weight, 0.0, sd, -2 * sd, 2 * sd)
                e.weight[rows].zero_()
            self.emb.append(e)
            width += f["dim"]
        self.bottom, d = mlp(width, ds["bottom"])
        self.towers, self.rels, self.outs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        rel_out = {}
        for t in ds["towers"]:
            tw, td = mlp(d, t["dnn"])
            rw, rd = mlp(td + sum(rel_out[p] for p in t["rel"]), t["rel_dnn"])
            rel_out[t["name"]] = rd
            self.towers.append(tw)
            self.rels.append(rw)
            self.outs.append(dense(rd, 1))

    def forward(self, ids, raw):
        parts, raw_k, emb_parts = [], 0, []
        for f, e, x in zip(self.ds["features"], self.emb, ids):
            if f["kind"] == "raw":
                parts.append(raw[:, raw_k:raw_k + 1])
                raw_k += 1
                continue
            pad = e.num_embeddings - 1
            v = e(torch.where(x < 0, torch.full_like(x, pad), x)).sum(1)
            parts.append(v)
            emb_parts.append(v)
        h = self.bottom(torch.cat(parts, 1))
        relf, logits = {}, []
        for t, tw, rw, ow in zip(self.ds["towers"], self.towers, self.rels, self.outs):
            r = rw(torch.cat([tw(h)] + [relf[p] for p in t["rel"]], 1))
            relf[t["name"]] = r
            logits.append(ow(r).squeeze(1))
        return logits, emb_parts

    def kernels(self):
        return [m.weight for m in self.modules() if isinstance(m, nn.Linear)]


def load_mtrec_checkpoint(model, path):
    """Copy the weights and BN statistics of an mtrec checkpoint (safetensors, EasyRec
    names) into model; used by --eval_checkpoint to check that this script's features,
    forward pass and metrics reproduce mtrec's evaluation of the same weights."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import read_ckpt
    t, _ = read_ckpt.load(path)
    used = set()

    def get(name):
        used.add(name)
        return torch.from_numpy(np.array(t[name], dtype=np.float32))

    def mlp_load(seq, scope):
        for i in range(len(seq) // 3):
            lin, bn = seq[3 * i], seq[3 * i + 1]
            pre = "%s/dnn_%d/" % (scope, i)
            with torch.no_grad():
                lin.weight.copy_(get(pre + "kernel").T)
                lin.bias.copy_(get(pre + "bias"))
                bn.gamma.copy_(get(pre + "bn/gamma"))
                bn.beta.copy_(get(pre + "bn/beta"))
                bn.mmean.copy_(get(pre + "bn/moving_mean"))
                bn.mvar.copy_(get(pre + "bn/moving_variance"))

    mlp_load(model.bottom, "bottom_dnn")
    for tw, rw, ow, tc in zip(model.towers, model.rels, model.outs, model.ds["towers"]):
        mlp_load(tw, "dnn_" + tc["name"])
        mlp_load(rw, "relation_dnn_" + tc["name"])
        with torch.no_grad():
            ow.weight.copy_(get("output_%s/kernel" % tc["name"]).T)
            ow.bias.copy_(get("output_%s/bias" % tc["name"]))
    for f, e in zip(model.ds["features"], model.emb):
        if e is not None:
            with torch.no_grad():
                e.weight[:-1].copy_(get("embedding/%s/weights" % f["name"]))
    left = [k for k in t if k not in used and not k.endswith("/Adam") and not k.endswith("/Adam_1")]
    if left:
        raise ValueError("%s: tensors not used by this model: %s" % (path, ", ".join(left[:5])))


# ---- TF Adam -------------------------------------------------------------------------------
class TFAdam:
    """tf.train.AdamOptimizer update; embedding tables dense (TF on IndexedSlices) or lazy."""

    def __init__(self, model, b1, b2, eps, emb_mode):
        self.b1, self.b2, self.eps, self.emb_mode = b1, b2, eps, emb_mode
        self.tables = {id(e.weight) for e in model.emb if e is not None}
        self.params = [p for p in model.parameters()]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self, lr, touched):
        """touched: {id(table weight): LongTensor of rows looked up this batch} (lazy mode)."""
        self.t += 1
        lr_t = lr * math.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            if self.emb_mode == "lazy" and id(p) in self.tables:
                rows = touched[id(p)]
                gr = g[rows]
                m[rows] = m[rows] + (gr - m[rows]) * (1 - self.b1)
                v[rows] = v[rows] + (gr * gr - v[rows]) * (1 - self.b2)
                p[rows] -= lr_t * m[rows] / (v[rows].sqrt() + self.eps)
                continue
            m.add_((g - m) * (1 - self.b1))
            v.add_((g * g - v) * (1 - self.b2))
            p.sub_(lr_t * m / (v.sqrt() + self.eps))


def lr_at(c, step):
    p = step / c["decay_steps"]
    if c["staircase"]:
        p = math.floor(p)
    return max(c["min"], c["initial"] * c["factor"] ** p)


# ---- data order ----------------------------------------------------------------------------
def stream(n, epochs, buf, rng):
    """Row indices in tf.data order: shuffle buffer of `buf` rows per epoch, epochs chained
    (epochs == 0: forever)."""
    e = 0
    while epochs == 0 or e < epochs:
        pool = []
        for i in range(n):
            pool.append(i)
            if len(pool) >= buf:
                k = rng.randrange(len(pool))
                pool[k], pool[-1] = pool[-1], pool[k]
                yield pool.pop()
        while pool:
            k = rng.randrange(len(pool))
            pool[k], pool[-1] = pool[-1], pool[k]
            yield pool.pop()
        e += 1


def batches(n, bs, epochs, buf, rng):
    cur = []
    for i in stream(n, epochs, buf, rng):
        cur.append(i)
        if len(cur) == bs:
            yield torch.tensor(cur)
            cur = []
    if cur:
        yield torch.tensor(cur)


# ---- metrics -------------------------------------------------------------------------------
def auc_exact(y, s):
    """ROC AUC with midranks for ties; nan when one class is absent."""
    y = np.asarray(y) > 0.5
    s = np.asarray(s, dtype=np.float64)
    P, N = int(y.sum()), int((~y).sum())
    if P == 0 or N == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - P * (P + 1) / 2.0) / (P * N))


# ---- main ----------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS))
    ap.add_argument("--train")
    ap.add_argument("--eval")
    ap.add_argument("--hash", choices=["farmhash", "blake2"], default="farmhash")
    ap.add_argument("--self_test", action="store_true", help="check the hash and AUC code, then exit")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num_steps", type=int, default=None, help="override the data set's num_steps")
    ap.add_argument("--emb_adam", choices=["dense", "lazy"], default="dense")
    ap.add_argument("--json_out", default=None)
    ap.add_argument("--eval_checkpoint", default=None,
                    help="skip training: evaluate the weights of this mtrec checkpoint")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        sys.exit(self_test())
    if not (a.dataset and a.train and a.eval):
        ap.error("--dataset, --train and --eval are required")
    global HASH
    HASH = a.hash
    ds = DATASETS[a.dataset]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    tr_rows, ev_rows = read_csv(a.train, ds["header"]), read_csv(a.eval, ds["header"])
    report_collisions(ds, tr_rows + ev_rows)
    tr_ids, tr_raw, tr_y = encode(ds, tr_rows)
    ev_ids, ev_raw, ev_y = encode(ds, ev_rows)
    model = DBMTL(ds, tr_raw.shape[1])
    ad = ds["adam"]
    opt = TFAdam(model, ad["beta1"], ad["beta2"], ad["eps"], a.emb_adam)
    kernels = model.kernels()
    num_steps = ds["num_steps"] if a.num_steps is None else a.num_steps

    t0 = time.perf_counter()
    step, examples = 0, 0
    if a.eval_checkpoint:
        load_mtrec_checkpoint(model, a.eval_checkpoint)
        num_steps = -1
    model.train()
    for idx in ([] if num_steps < 0 else batches(len(tr_rows), ds["batch"], ds["num_epochs"], ds["shuffle_buffer"], rng)):
        if num_steps > 0 and step >= num_steps:
            break
        ids = [x[idx] if x is not None else None for x in tr_ids]
        logits, embs = model(ids, tr_raw[idx])
        y = tr_y[idx]
        loss = 0.0
        tl = []
        for k, t in enumerate(ds["towers"]):
            if t["loss"] == "cls":
                l = nn.functional.binary_cross_entropy_with_logits(logits[k], y[:, k])
            else:
                l = ((logits[k] - y[:, k]) ** 2).mean()
            tl.append(float(l))
            loss = loss + t["w"] * l
        reg = ds["l2"] * 0.5 * sum((w * w).sum() for w in kernels)
        reg = reg + ds["emb_reg"] * 0.5 * sum((e * e).sum() for e in embs)
        total = loss + reg
        for p in model.parameters():
            p.grad = None
        total.backward()
        touched = {}
        if a.emb_adam == "lazy":
            for e, x in zip(model.emb, ids):
                if e is not None:
                    r = x[x >= 0].unique()
                    prev = touched.get(id(e.weight))
                    touched[id(e.weight)] = r if prev is None else torch.cat([prev, r]).unique()
        opt.step(lr_at(ds["lr"], step), touched)
        step += 1
        examples += len(idx)
        if not a.quiet and step % 100 == 0:
            print("step %d: %s total=%.5f" % (step, " ".join("%s=%.5f" % (t["name"], v)
                  for t, v in zip(ds["towers"], tl)), float(total)), file=sys.stderr)
    secs = time.perf_counter() - t0

    model.eval()
    outs = [[] for _ in ds["towers"]]
    with torch.no_grad():
        for s in range(0, len(ev_rows), ds["batch"]):
            idx = torch.arange(s, min(s + ds["batch"], len(ev_rows)))
            logits, _ = model([x[idx] if x is not None else None for x in ev_ids], ev_raw[idx])
            for k in range(len(outs)):
                outs[k].append(logits[k])
    res = {}
    for k, t in enumerate(ds["towers"]):
        z = torch.cat(outs[k]).double().numpy()
        y = ev_y[:, k].double().numpy()
        if t["loss"] == "cls":
            pr = 1 / (1 + np.exp(-z))
            res["auc_" + t["name"]] = auc_exact(y, pr)
            pc = np.clip(pr, 1e-7, 1 - 1e-7)  # as mtrec's logloss_<tower>
            res["logloss_" + t["name"]] = float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean())
        else:
            res["mean_squared_error_" + t["name"]] = float(((z - y) ** 2).mean())
    res["global_step"] = step
    print("torch %s: trained %d steps (%d examples) in %.1f s: %.0f examples/s" %
          (torch.__version__, step, examples, secs, examples / max(secs, 1e-9)), file=sys.stderr)
    for k, v in res.items():
        print("%-40s %12.6f" % (k, v) if k != "global_step" else "%-40s %12d" % (k, v))
    if a.json_out:
        with open(a.json_out, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
