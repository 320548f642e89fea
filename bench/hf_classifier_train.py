"""Fine-tuning a sequence classifier with transformers' Trainer, as a user
writes it: the labelled CSV tokenized up front (fast tokenizer, truncation to
MAX_LENGTH), DataCollatorWithPadding (dynamic padding to the longest of each
batch), AutoModelForSequenceClassification in train mode with the config's
dropout, Trainer's AdamW (its default optimizer, no decay on biases and
LayerNorm weights) with a linear schedule and no warmup, clipping at 1.0,
use_cpu, no evaluation, no saving, no logging. The examples are taken in file
order (train_sampling_strategy="sequential"), as `ckpt train --no-shuffle`
takes them, so both sides train on the same batches.

usage: hf_classifier_train.py MODEL_DIR TRAIN_CSV [--max-length 128]
       [--batch-size 8] [--max-steps 23] [--warmup-steps 3] [--lr 5e-5]
       [--weight-decay 0.01] [--threads 2] [--seed 42] [--lengths FILE]

MODEL_DIR holds the config (with id2label), the weights and the tokenizer.
Timing: a TrainerCallback takes the time at the end of every optimizer step;
the first --warmup-steps steps are not timed. Prints one JSON line: seconds
per timed step, real (unpadded) and padded tokens per second over the timed
steps, the time of trainer.train() and of the whole script, the final loss,
peak RSS. --lengths FILE writes each example's token count (one a line).
"""
import argparse, csv, inspect, json, os, resource, time

T0 = time.perf_counter()
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("train_csv")
ap.add_argument("--max-length", type=int, default=128)
ap.add_argument("--batch-size", type=int, default=8)
ap.add_argument("--max-steps", type=int, default=23)
ap.add_argument("--warmup-steps", type=int, default=3, help="optimizer steps left out of the timing")
ap.add_argument("--lr", type=float, default=5e-5)
ap.add_argument("--weight-decay", type=float, default=0.01)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--attn", default=None, help="attn_implementation (default: transformers' choice)")
ap.add_argument("--lengths", help="write each example's token count to this file")
a = ap.parse_args()

os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
os.environ.setdefault("MKL_NUM_THREADS", str(a.threads))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

import torch
import transformers
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                          TrainerCallback, TrainingArguments)

torch.set_num_threads(a.threads)
tokenizer = AutoTokenizer.from_pretrained(a.model)
model = AutoModelForSequenceClassification.from_pretrained(a.model, **({"attn_implementation": a.attn} if a.attn else {}))
label2id = model.config.label2id

with open(a.train_csv, encoding="utf-8", newline="") as f:
    rows = list(csv.DictReader(f))
enc = tokenizer([r["text"] for r in rows], truncation=True, max_length=a.max_length)
names = [n for n in tokenizer.model_input_names if n in enc and n in inspect.signature(model.forward).parameters]
examples = [{**{n: enc[n][i] for n in names}, "labels": label2id[r["label"]]} for i, r in enumerate(rows)]
lengths = [len(e["input_ids"]) for e in examples]
if a.lengths:
    with open(a.lengths, "w") as f:
        f.write("".join(f"{n}\n" for n in lengths))


class Timer(TrainerCallback):
    def __init__(self):
        self.ends = []

    def on_train_begin(self, args, state, control, **kw):
        self.begin = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        self.ends.append(time.perf_counter())


timer = Timer()
args = TrainingArguments(
    output_dir=os.path.join(os.path.dirname(os.path.abspath(a.model)), "hf-trainer-out"),
    per_device_train_batch_size=a.batch_size, max_steps=a.max_steps, learning_rate=a.lr,
    weight_decay=a.weight_decay, warmup_steps=0, lr_scheduler_type="linear", max_grad_norm=1.0,
    use_cpu=True, eval_strategy="no", save_strategy="no", logging_strategy="no", report_to="none",
    disable_tqdm=True, dataloader_num_workers=0, dataloader_pin_memory=False, seed=a.seed,
    train_sampling_strategy="sequential",
)
trainer = Trainer(model=model, args=args, train_dataset=examples,
                  data_collator=DataCollatorWithPadding(tokenizer), callbacks=[timer])
t1 = time.perf_counter()
result = trainer.train()
t2 = time.perf_counter()

B, W, S = a.batch_size, a.warmup_steps, a.max_steps
assert len(timer.ends) == S, (len(timer.ends), S)
timed = timer.ends[S - 1] - timer.ends[W - 1] if W > 0 else timer.ends[S - 1] - timer.begin
batches = [lengths[k * B:(k + 1) * B] for k in range(S)]
real = sum(sum(b) for b in batches[W:S])
padded = sum(max(b) * len(b) for b in batches[W:S])
print(json.dumps({
    "side": "transformers Trainer", "model": type(model).__name__, "attn": model.config._attn_implementation,
    "optim": str(args.optim), "examples": len(examples), "steps": S, "timed_steps": S - W,
    "step_s": timed / (S - W), "real_tokens_per_s": real / timed, "padded_tokens_per_s": padded / timed,
    "real_tokens_timed": real, "padded_tokens_timed": padded,
    "train_s": t2 - t1, "script_s": t2 - T0, "train_loss": result.training_loss,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": torch.get_num_threads(),
    "torch": torch.__version__, "transformers": transformers.__version__,
}))
