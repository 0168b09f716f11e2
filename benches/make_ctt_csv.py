"""Writes a 100,000 × 100 four-option answer table (simulated from a 2PL, seed 7) and its key,
for timing `irtlab items-ctt` end to end:

    python3 benches/make_ctt_csv.py /tmp/ctt100k.csv /tmp/ctt100k_key.csv
    irtlab items-ctt /tmp/ctt100k.csv --id id --key /tmp/ctt100k_key.csv --out ctt.csv --distractors-out distractors.csv
"""
import math
import random
import sys

answers_path, key_path = sys.argv[1], sys.argv[2]
random.seed(7)
n, J = 100_000, 100
LETTERS = "ABCD"
a = [0.8 + random.random() * 1.2 for _ in range(J)]
b = [random.gauss(0, 1) for _ in range(J)]
with open(answers_path, "w") as f:
    f.write("id," + ",".join(f"item{j + 1:03d}" for j in range(J)) + "\n")
    for p in range(n):
        theta = random.gauss(0, 1)
        row = []
        for j in range(J):
            key = j % 4
            if random.random() < 1 / (1 + math.exp(-a[j] * (theta - b[j]))):
                row.append(LETTERS[key])
            else:
                row.append(LETTERS[(key + 1 + random.randrange(3)) % 4])
        f.write(str(p + 1) + "," + ",".join(row) + "\n")
with open(key_path, "w") as f:
    f.write("item,key\n")
    for j in range(J):
        f.write(f"item{j + 1:03d},{LETTERS[j % 4]}\n")
