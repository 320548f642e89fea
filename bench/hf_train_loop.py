"""The seed notebooks' masked-LM loop in PyTorch eager + transformers, timed end
to end: load the model and tokenizer, tokenize the corpus (fast tokenizer,
truncation to --max-length), hold out an eval slice, DataLoader with shuffling
and DataCollatorForLanguageModeling (dynamic padding to each batch's longest,
15 % masking, 80/10/10), AdamW (no decay on biases and LayerNorm weights) with a
linear warmup schedule, gradient accumulation, clip_grad_norm_(1.0), an eval
(loss, perplexity) every --eval-steps and at the end, save_pretrained. Prints one
JSON object: wall seconds, optimizer steps, real tokens trained on, peak RSS."""
import argparse, json, math, random, resource, time

t0 = time.perf_counter()
import torch
from torch.utils.data import DataLoader
from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling,
                          get_linear_schedule_with_warmup)

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("corpus")
ap.add_argument("out")
ap.add_argument("--batch-size", type=int, default=8)
ap.add_argument("--grad-accum", type=int, default=2)
ap.add_argument("--max-length", type=int, default=128)
ap.add_argument("--max-steps", type=int, default=20)
ap.add_argument("--eval-ratio", type=float, default=0.05)
ap.add_argument("--eval-steps", type=int, default=10)
ap.add_argument("--lr", type=float, default=5e-5)
ap.add_argument("--warmup-steps", type=int, default=2)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(42)
random.seed(42)

tok = AutoTokenizer.from_pretrained(a.model)
model = AutoModelForMaskedLM.from_pretrained(a.model, attn_implementation="eager").train()
texts = [l.strip() for l in open(a.corpus, encoding="utf-8") if l.strip()]
enc = tok(texts, truncation=True, max_length=a.max_length)
examples = [{"input_ids": ids} for ids in enc["input_ids"]]
random.shuffle(examples)
n_eval = max(1, int(len(examples) * a.eval_ratio))
eval_set, train_set = examples[:n_eval], examples[n_eval:]
collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
loader = DataLoader(train_set, batch_size=a.batch_size, shuffle=True, collate_fn=collator)

no_decay = set()
for mname, module in model.named_modules():
    for pname, _ in module.named_parameters(recurse=False):
        if isinstance(module, torch.nn.LayerNorm) or pname == "bias":
            no_decay.add(f"{mname}.{pname}" if mname else pname)
params = list(model.named_parameters())
opt = torch.optim.AdamW([{"params": [p for n, p in params if n not in no_decay], "weight_decay": 0.01},
                         {"params": [p for n, p in params if n in no_decay], "weight_decay": 0.0}], lr=a.lr)
sched = get_linear_schedule_with_warmup(opt, a.warmup_steps, a.max_steps)
eval_batches = [collator(eval_set[i:i + a.batch_size]) for i in range(0, len(eval_set), a.batch_size)]  # masked once


def evaluate():
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for b in eval_batches:
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
            total += torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), b["labels"].view(-1), reduction="sum").item()
            count += int((b["labels"] != -100).sum())
    model.train()
    return total / max(1, count)


first_eval = evaluate()
step, micro, tokens = 0, 0, 0
while step < a.max_steps:
    for batch in loader:
        out = model(**batch)
        (out.loss / a.grad_accum).backward()
        tokens += int(batch["attention_mask"].sum())
        micro += 1
        if micro % a.grad_accum == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
            step += 1
            if step % a.eval_steps == 0:
                evaluate()
            if step >= a.max_steps:
                break
last_eval = evaluate()
model.save_pretrained(a.out)
tok.save_pretrained(a.out)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "steps": step, "tokens": tokens, "tokens_per_s": tokens / wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "eval_loss_before": first_eval, "eval_loss_after": last_eval}))
