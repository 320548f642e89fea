"""Hugging Face `tokenizers` training, as a Python user runs it:
ByteLevelBPETokenizer.train (RoBERTa's specials) or BertWordPieceTokenizer.train,
on the same files, vocabulary size and (RAYON_NUM_THREADS) threads as ckpt.

usage: hf_train_tokenizer.py bpe|wordpiece VOCAB_SIZE OUT_DIR CORPUS...
Prints one JSON line: seconds, peak RSS (MB, this process), vocabulary size."""
import json, os, resource, sys, time

kind, vocab_size, out, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
from tokenizers import ByteLevelBPETokenizer, BertWordPieceTokenizer

t0 = time.perf_counter()
if kind == "bpe":
    tok = ByteLevelBPETokenizer()
    tok.train(files, vocab_size=vocab_size, min_frequency=2, show_progress=False,
              special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
else:
    tok = BertWordPieceTokenizer(lowercase=True)
    tok.train(files, vocab_size=vocab_size, min_frequency=2, limit_alphabet=1000, show_progress=False)
seconds = time.perf_counter() - t0
os.makedirs(out, exist_ok=True)
tok.save_model(out)
print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "vocab": tok.get_vocab_size()}))
