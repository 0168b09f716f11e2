"""Builds assets/sample.sqlite: a small school-shaped database simulated from a known 2PL.

Tables
- students(id, name, grade, gender): grade as text ("third-grade", "fourth-grade", "fifth-grade")
- items(item_id, name, answer_key, true_a, true_b): the key, and the 2PL parameters used to simulate
- responses(student_id, item_id, choice): long format, options A-D; a few duplicate rows and
  missing answers (NULL choice, or no row at all) to clean

Run with `python3 assets/make_sample.py` (standard library only; seeded, so the file is the same
every time).
"""

import math
import os
import random
import sqlite3

random.seed(20261126)
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "sample.sqlite")
if os.path.exists(path):
    os.remove(path)

first = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lena",
         "Milo", "Nora", "Omar", "Pia", "Quin", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wren", "Yara"]
last = ["Ng", "Berg", "Costa", "Diaz", "Evans", "Fox", "Gray", "Hill", "Ito", "Jones", "Khan",
        "Lund", "Moss", "Novak", "Ortiz", "Park", "Rossi", "Silva", "Tan", "Vogel", "Weiss"]
grades = [("third-grade", -0.6), ("fourth-grade", 0.0), ("fifth-grade", 0.6)]
options = "ABCD"

n_items = 20
items = []
for j in range(n_items):
    a = round(0.6 + 1.4 * random.random(), 3)
    b = round(-2.0 + 4.0 * (j + 0.5) / n_items + random.uniform(-0.2, 0.2), 3)
    items.append((f"Q{j + 1:02d}", f"Question {j + 1}", random.choice(options), a, b))

db = sqlite3.connect(path)
db.executescript(
    """
    CREATE TABLE students (id INTEGER PRIMARY KEY, name TEXT NOT NULL, grade TEXT NOT NULL,
                           gender TEXT);
    CREATE TABLE items (item_id TEXT PRIMARY KEY, name TEXT NOT NULL, answer_key TEXT NOT NULL,
                        true_a REAL NOT NULL, true_b REAL NOT NULL);
    CREATE TABLE responses (student_id INTEGER NOT NULL REFERENCES students(id),
                            item_id TEXT NOT NULL REFERENCES items(item_id), choice TEXT);
    """
)
db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?)", items)

n_students = 600
rows = []
for i in range(1, n_students + 1):
    grade, shift = grades[(i - 1) % 3]
    gender = random.choice(["F", "M", "F", "M", None])
    name = f"{random.choice(first)} {random.choice(last)}"
    db.execute("INSERT INTO students VALUES (?, ?, ?, ?)", (i, name, grade, gender))
    theta = random.gauss(shift, 1.0)
    for item_id, _, key, a, b in items:
        u = random.random()
        if u < 0.02:
            continue  # no row at all: not answered
        p = 1.0 / (1.0 + math.exp(-a * (theta - b)))
        if random.random() < p:
            choice = key
        else:
            choice = random.choice([o for o in options if o != key])
        if u < 0.04:
            choice = None  # a row with the answer left blank
        rows.append((i, item_id, choice))
# A few duplicated submissions to clean.
for k in range(0, len(rows), 997):
    rows.append(rows[k])
db.executemany("INSERT INTO responses VALUES (?, ?, ?)", rows)
db.commit()
db.execute("VACUUM")
db.close()
print(f"wrote {path}: {n_students} students, {n_items} items, {len(rows)} response rows")
