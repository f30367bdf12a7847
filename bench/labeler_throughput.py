"""Rule labeler throughput on IU reports, and its ratio to a CheXbert-sized forward pass on CPU.

    python bench/labeler_throughput.py [--bert-reports 128] [--repeats 3]

Measures, in one process on the 2069 IU reports (FINDINGS + IMPRESSION):
  * rule labeler, cold cache (every report labelled from scratch), best of --repeats;
  * rule labeler, warm cache (what a GRPO step sees when a group repeats a report);
  * a bert-base-uncased-sized BertModel (random weights: same cost as CheXbert) + 14 linear
    heads, batch 32, max 512 tokens, no gradients, on --bert-reports of the same reports.
Target (issue #2): >= 5,000 reports/s cold.
"""

from __future__ import annotations

import argparse
import time

from _shared import full_text, iu_reports

from radrl.labelers import RuleLabeler


def bert_reports_per_second(texts: list[str], batch_size: int = 32) -> float:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    # A word-level tokenizer over the corpus gives realistic sequence lengths without a download.
    words = sorted({w for t in texts for w in t.lower().replace(".", " . ").replace(",", " , ").split()})
    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3} | {w: i + 4 for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    config = BertConfig(vocab_size=30522)  # bert-base-uncased: 12 layers, 768 hidden, 110M params
    model = BertModel(config, add_pooling_layer=False).eval()
    heads = torch.nn.ModuleList([torch.nn.Linear(768, 4) for _ in range(13)] + [torch.nn.Linear(768, 2)])
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = [tok.encode(t).ids[:510] for t in texts[i : i + batch_size]]
            length = max(len(e) for e in enc) + 2
            ids = torch.zeros(len(enc), length, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for j, e in enumerate(enc):
                ids[j, : len(e) + 2] = torch.tensor([2, *e, 3])
                mask[j, : len(e) + 2] = 1
            cls = model(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
            _ = [h(cls) for h in heads]
    return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bert-reports", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    texts = [full_text(r) for r in iu_reports()]
    labeler = RuleLabeler()
    labeler.label_batch(texts[:10])  # import and compile once

    cold = []
    for _ in range(args.repeats):
        labeler.clear_cache()
        t0 = time.perf_counter()
        labeler.label_batch(texts)
        cold.append(len(texts) / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    labeler.label_batch(texts)
    warm = len(texts) / (time.perf_counter() - t0)
    rule = max(cold)
    print(f"reports: {len(texts)} IU (FINDINGS + IMPRESSION), mean {sum(map(len, texts)) / len(texts):.0f} chars")
    print(f"rule labeler, cold cache: {rule:,.0f} reports/s (runs: {', '.join(f'{c:,.0f}' for c in cold)}; target >= 5,000)")
    print(f"rule labeler, warm cache: {warm:,.0f} reports/s")
    if args.bert_reports > 0:
        bert = bert_reports_per_second(texts[: args.bert_reports])
        print(f"bert-base-sized labeler forward (CPU, batch 32, {args.bert_reports} reports): {bert:,.1f} reports/s")
        print(f"ratio rule / bert-base: {rule / bert:,.0f}x")


if __name__ == "__main__":
    main()
