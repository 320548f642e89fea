"""PyTorch eager + transformers masked-LM training throughput, the loop of the
seed notebooks: AutoModelForMaskedLM (random weights from a config, dropout as
configured) in train(), batch × seq random tokens framed by [CLS]/[SEP],
DataCollatorForLanguageModeling's 15 % / 80-10-10 masking, loss from labels=,
backward, clip_grad_norm_(1.0), AdamW (no decay on biases and LayerNorm
weights) with a linear warmup schedule, zero_grad. Same batch, length and
thread count as `ckpt bench train`. Prints tokens/s over the timed steps
(every token of the batch counts), seconds per step and peak RSS."""
import argparse, json, resource, time

import torch
from transformers import AutoConfig, AutoModelForMaskedLM, get_linear_schedule_with_warmup

ap = argparse.ArgumentParser()
ap.add_argument("config", help="a directory holding config.json")
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--warmup-steps", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--mlm-probability", type=float, default=0.15)
ap.add_argument("--json", action="store_true")
ap.add_argument("--bf16", action="store_true", help="CPU autocast to bfloat16 (fp32 weights and optimizer)")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = AutoConfig.from_pretrained(a.config)
model = AutoModelForMaskedLM.from_config(cfg, attn_implementation="eager").train()
V = cfg.vocab_size
CLS, SEP, MASK = 0, 1, min(4, V - 1)

no_decay = set()
for mname, module in model.named_modules():
    for pname, _ in module.named_parameters(recurse=False):
        if isinstance(module, torch.nn.LayerNorm) or pname == "bias":
            no_decay.add(f"{mname}.{pname}" if mname else pname)
params = list(model.named_parameters())
opt = torch.optim.AdamW([
    {"params": [p for n, p in params if n not in no_decay], "weight_decay": 0.01},
    {"params": [p for n, p in params if n in no_decay], "weight_decay": 0.0},
], lr=5e-5)
sched = get_linear_schedule_with_warmup(opt, 0, a.steps + a.warmup_steps)


def batch():
    ids = torch.randint(0, V, (a.batch, a.seq))
    ids[:, 0], ids[:, -1] = CLS, SEP
    labels = ids.clone()
    # DataCollatorForLanguageModeling.torch_mask_tokens
    prob = torch.full(labels.shape, a.mlm_probability)
    special = (ids == CLS) | (ids == SEP)
    prob.masked_fill_(special, 0.0)
    masked = torch.bernoulli(prob).bool()
    labels[~masked] = -100
    replaced = torch.bernoulli(torch.full(labels.shape, 0.8)).bool() & masked
    ids[replaced] = MASK
    rand = torch.bernoulli(torch.full(labels.shape, 0.5)).bool() & masked & ~replaced
    ids[rand] = torch.randint(V, labels.shape)[rand]
    return ids, labels


def step():
    ids, labels = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
        loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)


for _ in range(a.warmup_steps):
    step()
t = time.perf_counter()
for _ in range(a.steps):
    step()
s = (time.perf_counter() - t) / a.steps
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"tokens_per_s": a.batch * a.seq / s, "step_s": s, "peak_rss_mb": rss, "threads": torch.get_num_threads(),
       "torch": torch.__version__, "bf16": a.bf16}
print(json.dumps(out) if a.json else f"{out['tokens_per_s']:.0f} tokens/s, {s:.2f} s/step, peak RSS {rss:.0f} MiB")
