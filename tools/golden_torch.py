#!/usr/bin/env python3
"""golden_torch.py: writes tests/fixtures/golden/dbmtl_golden.json, the PyTorch reference that
tests/test_golden.c compares mtrec against.

It builds a small DBMTL in PyTorch (float64) exactly as mtrec/EasyRec define it:
identity-id and tag embeddings (sum), a raw dense feature, bottom_dnn with batch norm,
three towers (dnn -> relation_dnn over concat(tower, parents' relation outputs) -> output
dense), sigmoid cross-entropy and L2 losses (batch means), l2_regularization 1/2*l2*|W|^2 on
kernels, embedding_regularization 1/2*s*|looked-up embeddings|^2; then records logits,
losses, every gradient, and the total loss over K steps of TensorFlow's Adam (written out
here, since torch.optim.Adam places epsilon differently) with a constant learning rate.

Run with Debian's PyTorch: /usr/bin/python3 tools/golden_torch.py
"""
import json
import os

import torch

torch.manual_seed(1234)
DT = torch.float64
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "golden", "dbmtl_golden.json")

L2 = 1e-3
EMB_REG = 1e-2
LR = 0.01
K_STEPS = 4
BN_EPS = 1e-3

CONFIG = """
model_dir: '/tmp/mtrec_golden'
train_input_path: 'unused.csv'
data_config { input_type: CSVInput batch_size: 8
  input_fields { input_name: 'user' input_type: INT32 }
  input_fields { input_name: 'item' input_type: INT32 }
  input_fields { input_name: 'tags' input_type: STRING }
  input_fields { input_name: 'price' input_type: FLOAT }
  input_fields { input_name: 'click' input_type: INT32 }
  input_fields { input_name: 'buy' input_type: INT32 }
  input_fields { input_name: 'spend' input_type: FLOAT }
  label_fields: ['click', 'buy', 'spend'] }
feature_config {
  features { input_names: 'user' feature_type: IdFeature embedding_dim: 4 num_buckets: 10 }
  features { input_names: 'item' feature_type: IdFeature embedding_dim: 4 num_buckets: 12 }
  features { input_names: 'tags' feature_type: TagFeature embedding_dim: 4 num_buckets: 9 separator: '|' }
  features { input_names: 'price' feature_type: RawFeature }
}
model_config { model_class: 'DBMTL'
  feature_groups { group_name: 'all' feature_names: ['user', 'item', 'tags', 'price'] wide_deep: DEEP }
  embedding_regularization: %g
  dbmtl {
    bottom_dnn { hidden_units: [10] }
    task_towers { tower_name: 'ctr' label_name: 'click' dnn { hidden_units: [6] } relation_dnn { hidden_units: [4] } }
    task_towers { tower_name: 'cvr' label_name: 'buy' dnn { hidden_units: [6] } relation_tower_names: ['ctr']
      relation_dnn { hidden_units: [4] } weight: 2.0 }
    task_towers { tower_name: 'spend' label_name: 'spend' loss_type: L2_LOSS dnn { hidden_units: [5] }
      relation_tower_names: ['ctr', 'cvr'] relation_dnn { hidden_units: [3] } weight: 0.5 }
    l2_regularization: %g
  }
}
train_config { optimizer_config { adam_optimizer { learning_rate { constant_learning_rate { learning_rate: %g } } } } }
""" % (EMB_REG, L2, LR)

ROWS = [
    ["1", "3", "1|2", "0.5", "1", "0", "2.5"],
    ["2", "11", "", "1.5", "0", "0", "0"],
    ["1", "4", "3|3|8", "-0.3", "1", "1", "7.0"],
    ["9", "0", "5", "2.0", "0", "0", "0"],
    ["4", "7", "0|1|2|4", "0.0", "1", "0", "1.0"],
    ["3", "3", "6|7", "-1.0", "0", "0", "0"],
    ["5", "2", "2", "0.8", "1", "1", "4.2"],
    ["0", "9", "8|0", "1.2", "1", "0", "0.3"],
]
TABLES = {"user": 10, "item": 12, "tags": 9}
DIM = 4
TOWERS = [("ctr", [6], [4], [], "cls", 1.0, 0), ("cvr", [6], [4], ["ctr"], "cls", 2.0, 1),
          ("spend", [5], [3], ["ctr", "cvr"], "reg", 0.5, 2)]

params = {}  # name -> tensor (mtrec layout: kernels [in, out])


def P(name, *shape, kind="w"):
    if kind == "w":
        t = torch.randn(*shape, dtype=DT) * 0.5
    elif kind == "gamma":
        t = 1.0 + 0.2 * torch.randn(*shape, dtype=DT)
    else:
        t = 0.1 * torch.randn(*shape, dtype=DT)
    params[name] = t.requires_grad_(True)
    return params[name]


def mlp_params(scope, d, units):
    for i, u in enumerate(units):
        P(f"{scope}/dnn_{i}/kernel", d, u)
        P(f"{scope}/dnn_{i}/bias", u, kind="b")
        P(f"{scope}/dnn_{i}/bn/gamma", u, kind="gamma")
        P(f"{scope}/dnn_{i}/bn/beta", u, kind="b")
        d = u
    return d


tables = {n: (torch.randn(r, DIM, dtype=DT) * 0.5).requires_grad_(True) for n, r in TABLES.items()}
gw = 3 * DIM + 1
bd = mlp_params("bottom_dnn", gw, [10])
rel_out = {}
for name, dnn, rel, parents, kind, w, li in TOWERS:
    td = mlp_params(f"dnn_{name}", bd, dnn)
    rin = td + sum(rel_out[p] for p in parents)
    rel_out[name] = mlp_params(f"relation_dnn_{name}", rin, rel)
    P(f"output_{name}/kernel", rel_out[name], 1)
    P(f"output_{name}/bias", 1, kind="b")


def mlp(scope, x, n):
    for i in range(n):
        z = x @ params[f"{scope}/dnn_{i}/kernel"] + params[f"{scope}/dnn_{i}/bias"]
        mean = z.mean(0)
        var = ((z - mean) ** 2).mean(0)  # biased batch variance, as TF normalises
        z = (z - mean) / torch.sqrt(var + BN_EPS) * params[f"{scope}/dnn_{i}/bn/gamma"] + params[f"{scope}/dnn_{i}/bn/beta"]
        x = torch.relu(z)
    return x


def forward():
    B = len(ROWS)
    user = torch.tensor([int(r[0]) for r in ROWS])
    item = torch.tensor([int(r[1]) for r in ROWS])
    tag_rows = []
    for r in ROWS:
        v = torch.zeros(DIM, dtype=DT)
        for t in [t for t in r[2].split("|") if t != ""]:
            v = v + tables["tags"][int(t)]
        tag_rows.append(v)
    e_user = tables["user"][user]
    e_item = tables["item"][item]
    e_tags = torch.stack(tag_rows)
    price = torch.tensor([[float(r[3])] for r in ROWS], dtype=DT)
    x = torch.cat([e_user, e_item, e_tags, price], 1)
    h = mlp("bottom_dnn", x, 1)
    labels = torch.tensor([[float(v) for v in r[4:]] for r in ROWS], dtype=DT)
    relf, logits, tower_loss = {}, {}, {}
    total = torch.zeros((), dtype=DT)
    for name, dnn, rel, parents, kind, w, li in TOWERS:
        t = mlp(f"dnn_{name}", h, len(dnn))
        r = mlp(f"relation_dnn_{name}", torch.cat([t] + [relf[p] for p in parents], 1), len(rel))
        relf[name] = r
        lg = (r @ params[f"output_{name}/kernel"] + params[f"output_{name}/bias"]).squeeze(1)
        logits[name] = lg
        y = labels[:, li]
        if kind == "cls":
            l = torch.nn.functional.binary_cross_entropy_with_logits(lg, y)
        else:
            l = ((lg - y) ** 2).mean()
        tower_loss[name] = w * l
        total = total + w * l
    reg = sum(0.5 * L2 * (v ** 2).sum() for k, v in params.items() if k.endswith("/kernel"))
    reg = reg + 0.5 * EMB_REG * ((e_user ** 2).sum() + (e_item ** 2).sum() + (e_tags ** 2).sum())
    return logits, tower_loss, total + reg, reg


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


init_params = {k: flat(v) for k, v in params.items()}
init_tables = {k: flat(v) for k, v in tables.items()}
logits, tower_loss, total, reg = forward()
total.backward()
grads = {k: flat(v.grad) for k, v in params.items()}
table_grads = {k: flat(v.grad) for k, v in tables.items()}

# K steps of TensorFlow's Adam (beta1 .9, beta2 .999, eps 1e-8), same batch each step
allp = list(params.values()) + list(tables.values())
m = [torch.zeros_like(p) for p in allp]
v = [torch.zeros_like(p) for p in allp]
step_losses = []
for step in range(1, K_STEPS + 1):
    for p in allp:
        p.grad = None
    _, _, tot, _ = forward()
    step_losses.append(float(tot))
    tot.backward()
    with torch.no_grad():
        lr_t = LR * (1 - 0.999 ** step) ** 0.5 / (1 - 0.9 ** step)
        for i, p in enumerate(allp):
            m[i] = 0.9 * m[i] + 0.1 * p.grad
            v[i] = 0.999 * v[i] + 0.001 * p.grad ** 2
            p -= lr_t * m[i] / (v[i].sqrt() + 1e-8)
with torch.no_grad():
    _, _, tot, _ = forward()
step_losses.append(float(tot))

fixture = {
    "about": "generated by tools/golden_torch.py with torch " + torch.__version__,
    "config": CONFIG,
    "rows": ROWS,
    "params": init_params,
    "tables": init_tables,
    "logits": {k: flat(v) for k, v in logits.items()},
    "tower_loss": {k: float(v) for k, v in tower_loss.items()},
    "regularization": float(reg),
    "total_loss": float(total),
    "grads": grads,
    "table_grads": table_grads,
    "adam_lr": LR,
    "adam_losses": step_losses,
    "final_params": {k: flat(v) for k, v in params.items()},
}
with open(OUT, "w") as f:
    json.dump(fixture, f, indent=0)
print("wrote", os.path.normpath(OUT), "total_loss", float(total), "adam losses", step_losses)
