"""The measurements both PyTorch peers make, on their own forward(ids, past=None, last_only=False, keys=None):
median forward 1x128 (7 runs), 8x128 and 1x1024 (3 runs each), greedy 32 tokens with KV cache after 10, the throughput
of greedy 32 tokens for 8 left-padded prompts of 10 to 80 tokens, and the first 8 last-position logits (of the 128
tokens, and of the shortest padded prompt), printed as one JSON line. Token ids are i * 37 % vocabulary."""
import json, time
import torch

def med(f, k):
    ts = []
    for _ in range(k):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]

def measure(forward, vocabulary):
    ids1 = (torch.arange(128) * 37 % vocabulary).view(1, 128); ids8 = (torch.arange(8 * 128) * 37 % vocabulary).view(8, 128)
    ids1024 = (torch.arange(1024) * 37 % vocabulary).view(1, 1024)
    prompt = ids1[:, :10]
    def gen():
        logits, past = forward(prompt, last_only=True); tok = logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(31):
            logits, past = forward(tok, past, last_only=True); tok = logits[:, -1].argmax(-1, keepdim=True)
    # Eight prompts of 10 to 80 tokens, left-padded to the longest.
    lengths = [10, 20, 30, 40, 50, 60, 70, 80]; longest = max(lengths)
    batch = torch.zeros(8, longest, dtype=torch.long); keys = torch.zeros(8, longest, dtype=torch.long)
    for row, n in enumerate(lengths):
        batch[row, longest - n:] = (torch.arange(n) * 37 + row * 1000) % vocabulary; keys[row, longest - n:] = 1
    def gen_batch():
        k = keys; logits, past = forward(batch, last_only=True, keys=k); tok = logits[:, -1].argmax(-1, keepdim=True)
        for _ in range(31):
            k = torch.cat((k, torch.ones(8, 1, dtype=torch.long)), 1)
            logits, past = forward(tok, past, last_only=True, keys=k); tok = logits[:, -1].argmax(-1, keepdim=True)
    with torch.no_grad():
        forward(ids1)
        f1 = med(lambda: forward(ids1), 7); f8 = med(lambda: forward(ids8), 3); f1024 = med(lambda: forward(ids1024), 3)
        g = med(gen, 3); gb = med(gen_batch, 3)
        chk = forward(ids1)[0][0, -1, :8].tolist(); chk_batch = forward(batch, keys=keys)[0][0, -1, :8].tolist()
    print(json.dumps({"forward_1x128_ms": round(f1 * 1000, 1), "forward_8x128_ms": round(f8 * 1000, 1), "forward_1x1024_ms": round(f1024 * 1000, 1),
                      "greedy32_ms": round(g * 1000, 1), "batch8_greedy32_tokens_per_s": round(8 * 32 / gb, 1),
                      "last_logits_head": [round(v, 5) for v in chk], "padded_logits_head": [round(v, 5) for v in chk_batch]}))
